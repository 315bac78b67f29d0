-- autoenc 0.1.0 -> 0.2.0.
--
-- Models move into schemas (existing ones land in the extension's schema),
-- and every default, constraint, view and SQL body of 0.1.0 is replaced by a
-- schema-qualified one: an install of 0.1.0 that bound a look-alike planted
-- in a schema on the search_path (a public.nextval(text), say) no longer
-- calls it after this update.

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION autoenc UPDATE TO '0.2.0'" to load this file. \quit

-- the catalog: defaults and constraints again, qualified
ALTER TABLE @extschema@.ae_model_catalog
    ALTER COLUMN id SET DEFAULT pg_catalog.nextval('@extschema@.ae_model_catalog_id_seq'::pg_catalog.regclass),
    ALTER COLUMN created SET DEFAULT pg_catalog.now(),
    ALTER COLUMN updated SET DEFAULT pg_catalog.now(),
    DROP CONSTRAINT ae_model_catalog_name_check,
    DROP CONSTRAINT ae_model_catalog_version_check,
    DROP CONSTRAINT ae_model_catalog_name_key,
    ADD COLUMN schema text;

UPDATE @extschema@.ae_model_catalog
SET schema = (SELECT n.nspname::pg_catalog.text
              FROM pg_catalog.pg_extension e
              JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
              WHERE e.extname OPERATOR(pg_catalog.=) 'autoenc');

ALTER TABLE @extschema@.ae_model_catalog
    ALTER COLUMN schema SET NOT NULL,
    ADD CONSTRAINT ae_model_catalog_name_check
        CHECK (name OPERATOR(pg_catalog.<>) '' AND pg_catalog.octet_length(name) OPERATOR(pg_catalog.<=) 63),
    ADD CONSTRAINT ae_model_catalog_version_check CHECK (version OPERATOR(pg_catalog.>=) 1),
    ADD CONSTRAINT ae_model_catalog_schema_check
        CHECK (schema OPERATOR(pg_catalog.<>) '' AND pg_catalog.octet_length(schema) OPERATOR(pg_catalog.<=) 63),
    ADD CONSTRAINT ae_model_catalog_schema_name_key UNIQUE (schema, name);

ALTER TABLE @extschema@.ae_model_grants
    ALTER COLUMN granted SET DEFAULT pg_catalog.now();

ALTER TABLE @extschema@.ae_model_audit
    ALTER COLUMN id SET DEFAULT pg_catalog.nextval('@extschema@.ae_model_audit_id_seq'::pg_catalog.regclass),
    ALTER COLUMN at SET DEFAULT pg_catalog.now(),
    DROP CONSTRAINT ae_model_audit_action_check,
    ADD CONSTRAINT ae_model_audit_action_check
        CHECK (action OPERATOR(pg_catalog.=) ANY (ARRAY['grant', 'revoke', 'rename', 'drop', 'reassign']::pg_catalog.text[]));

-- the view shows the schema first; the variant function's body is qualified
DROP VIEW @extschema@.ae_models;
DROP FUNCTION @extschema@.ae_model_variant(jsonb, integer, integer);

-- Variant labels from the configuration: sparse_l1, sparse_kl, denoising,
-- contractive; with none of these undercomplete, or overcomplete when the
-- code is not narrower than the input (src/ae_variant.c).
CREATE FUNCTION @extschema@.ae_model_variant(config jsonb, n_inputs integer, code_width integer)
    RETURNS text[]
    AS 'MODULE_PATHNAME', 'ae_model_variant'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.ae_model_variant(jsonb, integer, integer) IS 'variant labels of a model, from its configuration';

-- One row per model the current role owns (or is a member of the owner of),
-- has been granted, or any model for a superuser.  security_barrier keeps a
-- caller's own functions from seeing rows the filter removes.
CREATE VIEW @extschema@.ae_models WITH (security_barrier) AS
    SELECT m.schema, m.name, m.version, m.owner, m.n_inputs, m.code_width, m.layers,
           @extschema@.ae_model_variant(m.config, m.n_inputs, m.code_width) AS variant,
           m.normalization, m.n_rows AS rows, m.epochs, m.train_loss, m.val_loss,
           m.threshold, m.source, m.columns, m.created, m.updated
    FROM @extschema@.ae_model_catalog m
    WHERE pg_catalog.pg_has_role(m.owner::pg_catalog.oid, 'USAGE'::pg_catalog.text)
       OR EXISTS (SELECT 1 FROM @extschema@.ae_model_grants g
                  WHERE g.model_id OPERATOR(pg_catalog.=) m.id
                    AND pg_catalog.pg_has_role(g.grantee::pg_catalog.oid, 'USAGE'::pg_catalog.text));

GRANT SELECT ON @extschema@.ae_models TO PUBLIC;

COMMENT ON VIEW @extschema@.ae_models IS 'the models the current role owns or has been granted';

-- Models follow their schema: ALTER SCHEMA ... RENAME renames the schema of
-- its models, DROP SCHEMA refuses (RESTRICT) or drops them (CASCADE), DROP
-- OWNED drops the models a role owns and the grants it holds.  PostgreSQL
-- fires no event trigger for REASSIGN OWNED: ae_reassign_owned does that.
CREATE FUNCTION @extschema@.ae_ddl_command_start() RETURNS event_trigger
    AS 'MODULE_PATHNAME', 'ae_ddl_command_start'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION @extschema@.ae_sql_drop() RETURNS event_trigger
    AS 'MODULE_PATHNAME', 'ae_sql_drop'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE EVENT TRIGGER ae_ddl_command_start ON ddl_command_start
    WHEN TAG IN ('ALTER SCHEMA', 'DROP SCHEMA', 'DROP OWNED')
    EXECUTE FUNCTION @extschema@.ae_ddl_command_start();

CREATE EVENT TRIGGER ae_sql_drop ON sql_drop
    WHEN TAG IN ('DROP SCHEMA', 'DROP OWNED')
    EXECUTE FUNCTION @extschema@.ae_sql_drop();


-- REASSIGN OWNED fires no event trigger: this is its counterpart for models.
CREATE FUNCTION @extschema@.ae_reassign_owned(old_role regrole, new_role regrole) RETURNS integer
    AS 'MODULE_PATHNAME', 'ae_reassign_owned'
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.ae_reassign_owned(regrole, regrole) IS 'give every model owned by one role to another (as REASSIGN OWNED does for other objects)';

-- section: ONNX

CREATE FUNCTION @extschema@.ae_export_onnx(model pg_catalog.text) RETURNS pg_catalog.bytea
    AS 'MODULE_PATHNAME', 'ae_export_onnx'
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION @extschema@.ae_export_onnx(pg_catalog.text) IS 'a stored model as an ONNX model (opset 17): outputs reconstruction, code, error';

CREATE FUNCTION @extschema@.ae_import_onnx(
    onnx pg_catalog.bytea,
    name pg_catalog.text,
    code_layer pg_catalog.int4 DEFAULT NULL,
    calibration pg_catalog.text DEFAULT NULL,
    contamination pg_catalog.float8 DEFAULT NULL,
    columns pg_catalog.text[] DEFAULT NULL) RETURNS pg_catalog.int4
    AS 'MODULE_PATHNAME', 'ae_import_onnx'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.ae_import_onnx(pg_catalog.bytea, pg_catalog.text, pg_catalog.int4, pg_catalog.text, pg_catalog.float8, pg_catalog.text[]) IS 'store a feed-forward autoencoder from an ONNX model; returns its version';
