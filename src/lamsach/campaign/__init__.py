"""Campaign domain rules: units, users and roles, campaigns, report templates and reports."""
