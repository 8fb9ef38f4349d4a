-- Nothing to change on SQLite: this migration changes a PostgreSQL function (see the PostgreSQL
-- migration of the same name). It exists here too so that both providers list the same
-- migrations, which an export from one imported into the other checks.
SELECT 1;
