-- tfident on PostgreSQL: an owner role, an application role, and least privilege.
--
-- tfident never changes a PostgreSQL schema by itself. Two login roles share the work:
--
--   owner role (default tfident_owner)  owns the schema and every table in it; the only
--                                       role that migrates: `tfident db upgrade`.
--   app role   (default tfident_app)    everything else: `tfident run`, `tfident serve`,
--                                       `tfident retention apply`, `tfident users add`,
--                                       exports, `runs`, `diff`. It reads and writes rows;
--                                       it cannot create, alter or drop anything, and it can
--                                       add to the audit log but never change or remove it.
--
-- When a new tfident brings a migration, the app role's commands stop with exit code 3
-- ("... run `tfident db upgrade` as the database owner role") and write nothing, until
-- the owner has upgraded. A tfident older than the schema is refused the same way.
--
-- HOW TO RUN IT (once, as a superuser), connected to the database tfident will use, which
-- must already exist:
--
--   createdb tfident
--   psql -X -d tfident -f docs/postgres-roles.sql
--
-- Variables (psql -v NAME=VALUE); all optional:
--
--   owner_role      the owner role's name                  default tfident_owner
--   app_role        the application role's name            default tfident_app
--   schema          the schema tfident's tables live in    default tfident
--   owner_password  the owner role's password               asked for when not given
--   app_password    the application role's password         asked for when not given
--
-- e.g.  psql -X -d tfident -v app_role=tf_app -v schema=troubled_families -f docs/postgres-roles.sql
--
-- Passwords: leave them off the command line (another user could read them in the process
-- list) and type them when asked. An empty answer (or -v app_password=) creates the role
-- without a password, for certificate, Kerberos/GSSAPI or peer authentication; you can set
-- one later with psql's `\password tfident_app`, which never sends it in clear. Statement
-- logging is switched off below for this session so the server log does not keep them.
--
-- Then, with each role's URL kept out of command lines (TFIDENT_DATABASE_URL_FILE):
--
--   owner, now and after every tfident update:  tfident db upgrade
--   app, every day:                             tfident run ..., tfident serve, ...
--
-- Always run `tfident db upgrade` as the OWNER role, never as a superuser: the default
-- privileges below apply to tables the owner creates, so a table a superuser created would
-- be owned by the superuser and unusable by the app role.
--
-- The script can be run again: existing roles and schema are kept, grants are re-applied
-- to every table already there (an existing deployment, after moving its tables to the
-- schema and the owner: ALTER TABLE ... SET SCHEMA / REASSIGN OWNED BY old_role TO owner).

\set ON_ERROR_STOP on

\if :{?owner_role}
\else
  \set owner_role tfident_owner
\endif
\if :{?app_role}
\else
  \set app_role tfident_app
\endif
\if :{?schema}
\else
  \set schema tfident
\endif
\if :{?owner_password}
\else
  \prompt 'Password for the owner role (empty: none): ' owner_password
\endif
\if :{?app_password}
\else
  \prompt 'Password for the app role (empty: none): ' app_password
\endif

BEGIN;

-- The passwords below must not land in the server log: no statement logging in this
-- transaction (only a superuser may switch it off; anyone else is told and carries on).
DO $$
BEGIN
    SET LOCAL log_statement = 'none';
    SET LOCAL log_min_duration_statement = -1;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'statement logging stays on: set the passwords with \password instead';
END
$$;

-- ------------------------------------------------------------------------------ roles
-- Plain login roles: no superuser, no CREATEDB/CREATEROLE, no replication, no bypassing
-- row security. Neither is a member of the other: the app role cannot SET ROLE to the
-- owner. (psql's \gexec runs each row of a query as a statement: here, only when the
-- role does not exist yet.)

SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS', name)
FROM (VALUES (:'owner_role'), (:'app_role')) AS wanted (name)
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = wanted.name)
\gexec

SELECT format('ALTER ROLE %I PASSWORD %L', name, password)
FROM (VALUES (:'owner_role', :'owner_password'), (:'app_role', :'app_password')) AS given (name, password)
WHERE password <> ''
\gexec

-- --------------------------------------------------------------------------- database
-- Only the two roles may connect (and nobody may make temporary tables, which tfident
-- does not use). Leave this out if other applications share the database.

REVOKE ALL ON DATABASE :"DBNAME" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"DBNAME" TO :"owner_role", :"app_role";

-- ----------------------------------------------------------------------------- schema
-- The owner role owns the schema, so it (and only it) creates tables there. The app role
-- may look up objects in it (USAGE) but not create any (no CREATE). PUBLIC gets nothing.
-- Both roles find tfident's tables without naming the schema: their search_path in this
-- database is the schema alone (a URL's options=-csearch_path=... would override it).

CREATE SCHEMA IF NOT EXISTS :"schema" AUTHORIZATION :"owner_role";
ALTER SCHEMA :"schema" OWNER TO :"owner_role";
REVOKE ALL ON SCHEMA :"schema" FROM PUBLIC;
GRANT USAGE ON SCHEMA :"schema" TO :"app_role";

ALTER ROLE :"owner_role" IN DATABASE :"DBNAME" SET search_path = :"schema";
ALTER ROLE :"app_role" IN DATABASE :"DBNAME" SET search_path = :"schema";

-- Before PostgreSQL 15 every role could create tables in the public schema; not here.
SELECT 'REVOKE CREATE ON SCHEMA public FROM PUBLIC' WHERE to_regnamespace('public') IS NOT NULL
\gexec

-- ----------------------------------------------------------------- default privileges
-- Tables and sequences the OWNER creates in the schema from now on (every table of
-- `tfident db upgrade`, today's and future migrations' alike) are usable by the app role
-- without anyone granting anything after an upgrade:
--
--   tables     SELECT, INSERT, UPDATE, DELETE. What needs them:
--              * `tfident run` writes a run: INSERT (and COPY) into the run tables,
--                INSERT/UPDATE of its `runs` row (running -> published; the month's earlier
--                version -> superseded), DELETE of a failed attempt's rows when it resumes.
--              * the month lock: INSERT, UPDATE (the run id once known) and DELETE of its
--                `run_locks` row; on PostgreSQL the lock itself is an advisory lock
--                (pg_try_advisory_lock), which needs no privilege.
--              * `tfident retention apply`: DELETE of an old run's rows in the tables with
--                personal data (source_records, persons, links, households, candidates,
--                criteria_evidence, quarantine, identity_events) and UPDATE of its `runs`
--                row (status purged). It never deletes `runs` rows or audit rows.
--              * the review app and `users add`: INSERT into decisions, link_constraints,
--                users, audit_log; UPDATE of users (failed logins, lock-outs, roles).
--   sequences  USAGE, SELECT: the id columns (bigserial) of audit_log, decisions,
--              quarantine, criteria_evidence, identity_events, link_constraints.
--
-- Never granted: TRUNCATE (it bypasses DELETE's row checks), REFERENCES, TRIGGER, and
-- anything on the schema beyond USAGE. Only the owner may ALTER, DROP or ANALYZE.
-- (tfident ANALYZEs the tables a run wrote; as the app role PostgreSQL skips that with a
-- warning and autovacuum refreshes the statistics a little later. On PostgreSQL 17 and
-- later you may let it: GRANT MAINTAIN ON ALL TABLES IN SCHEMA ... TO the app role, and
-- the same in the default privileges.)

ALTER DEFAULT PRIVILEGES FOR ROLE :"owner_role" IN SCHEMA :"schema"
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app_role";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner_role" IN SCHEMA :"schema"
    GRANT USAGE, SELECT ON SEQUENCES TO :"app_role";

-- ------------------------------------------------------------- tables already created
-- Nothing on a new database; on a database the owner already upgraded (running this
-- script again), the same privileges for the tables that exist.

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA :"schema" TO :"app_role";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA :"schema" TO :"app_role";

-- ------------------------------------------------------- the audit log is append-only
-- The app role may INSERT and SELECT audit_log rows, never UPDATE, DELETE or TRUNCATE
-- them; and only the owner migrates, so alembic_version is SELECT only.
--
-- Two locks, either enough on its own:
--   1. Migration 0002's triggers refuse UPDATE, DELETE (row triggers) and TRUNCATE (a
--      statement trigger) of audit_log for every role, the owner and superusers included;
--      only the table's owner could drop or disable them, which is why the app role must
--      not own it.
--   2. The app role lacks the privileges, so PostgreSQL refuses before any trigger runs.
--
-- The default privileges above cannot leave out one table, and audit_log and
-- alembic_version are created by the owner's first `tfident db upgrade`, after this
-- script. So every `tfident db upgrade` on PostgreSQL ends, in its own transaction, by
-- revoking from every role but the owner whatever goes beyond SELECT, INSERT on audit_log
-- and SELECT on alembic_version (tfident.store.engine.restrict_grants): the extra
-- privileges never reach a committed table. For tables that already exist, this does it
-- now:

SELECT format('REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON TABLE %I.audit_log FROM %I', :'schema', :'app_role')
WHERE to_regclass(format('%I.audit_log', :'schema')) IS NOT NULL
\gexec
SELECT format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON TABLE %I.alembic_version FROM %I',
              :'schema', :'app_role')
WHERE to_regclass(format('%I.alembic_version', :'schema')) IS NOT NULL
\gexec

COMMIT;

-- Check (as a superuser, after the owner's `tfident db upgrade`):
--   \dp :"schema".*          app role: arwd on tables, ar on audit_log, r on alembic_version
--   \ddp                     the default privileges above
