# Reproducible environments (issue 17): constraints.txt is `pip freeze` of the working .venv.
.PHONY: constraints

constraints: ## regenerate constraints.txt from .venv (pip freeze; torch and the editable aptk excluded)
	{ grep '^#' constraints.txt; $(PY) -m pip freeze --exclude-editable | grep -viE '^(torch|aptk)=='; } > constraints.txt.new
	mv constraints.txt.new constraints.txt
