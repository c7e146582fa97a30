"""One module per exercise family; each registers itself when imported."""
