"""Several server processes on one PostgreSQL: what they share and agree on (issue 18;
docs/scale.md)."""
