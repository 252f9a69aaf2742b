"""Tool-calling: BFCL data and conversion (``bfcl``), the AST checker (``checker``), the request
sent per case (``run``) and the rows (``summary``)."""
