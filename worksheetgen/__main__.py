from worksheetgen.cli import main

raise SystemExit(main())
