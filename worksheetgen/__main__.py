from worksheetgen.cli import run

run()
