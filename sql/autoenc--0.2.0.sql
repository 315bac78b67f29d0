-- autoenc 0.2.0: autoencoders trained and scored inside PostgreSQL.
--
-- Every reference in this script, in the view and in SQL function bodies is
-- schema-qualified (pg_catalog. for built-ins, @extschema@. for our own,
-- OPERATOR(pg_catalog.=) for operators): while CREATE EXTENSION runs, and
-- whenever a view or an SQL body is parsed, an object another role planted
-- in a schema on the search_path could otherwise win overload resolution
-- and run with the rights of the extension's owner.  Built-in type names in
-- declarations resolve in pg_catalog first (types are not overloaded).

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION autoenc" to load this file. \quit

-- version

CREATE FUNCTION @extschema@.ae_version() RETURNS text
    AS 'MODULE_PATHNAME', 'ae_version'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.ae_version() IS 'version of the loaded autoenc library';

-- section: catalog (model storage, ae_model type, management, import/export)

-- The ae_model type: one trained model (weights, normalisation, threshold,
-- quantiles, history, configuration) in the versioned, checksummed binary
-- format of doc/how-it-works.md.  Its text form is the base64 of those bytes;
-- every way in (text, binary, cast from bytea) validates the value.
CREATE TYPE @extschema@.ae_model;

CREATE FUNCTION @extschema@.ae_model_in(cstring) RETURNS @extschema@.ae_model
    AS 'MODULE_PATHNAME', 'ae_model_in'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.ae_model_out(@extschema@.ae_model) RETURNS cstring
    AS 'MODULE_PATHNAME', 'ae_model_out'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.ae_model_recv(internal) RETURNS @extschema@.ae_model
    AS 'MODULE_PATHNAME', 'ae_model_recv'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.ae_model_send(@extschema@.ae_model) RETURNS bytea
    AS 'MODULE_PATHNAME', 'ae_model_send'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE @extschema@.ae_model (
    INPUT          = @extschema@.ae_model_in,
    OUTPUT         = @extschema@.ae_model_out,
    RECEIVE        = @extschema@.ae_model_recv,
    SEND           = @extschema@.ae_model_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT      = int4,
    STORAGE        = extended
);

COMMENT ON TYPE @extschema@.ae_model IS 'a trained autoencoder with its normalisation, threshold and history';

CREATE FUNCTION @extschema@.ae_model(bytea) RETURNS @extschema@.ae_model
    AS 'MODULE_PATHNAME', 'ae_model_from_bytea'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- bytea -> ae_model checks the bytes; ae_model -> bytea needs no check
CREATE CAST (bytea AS @extschema@.ae_model) WITH FUNCTION @extschema@.ae_model(bytea);
CREATE CAST (@extschema@.ae_model AS bytea) WITHOUT FUNCTION;

CREATE FUNCTION @extschema@.ae_model_info(@extschema@.ae_model) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'ae_model_info'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.ae_model_info(@extschema@.ae_model) IS 'summary of a model: shape, normalisation, threshold, training';

-- The catalog.  Ordinary roles have no privilege on these tables: every
-- write goes through the C functions below, which check ownership, grants
-- and the privileges on the model's schema, and then run the statement as
-- the tables' owner.  Models live in schemas, as tables do: a model is
-- schema.name, the schema recorded by name (a dump and pg_upgrade carry
-- names, not the OIDs of schemas), followed through ALTER SCHEMA ... RENAME
-- and DROP SCHEMA by the event triggers below.  Owners and grantees are
-- regrole so that a dump restores them by name.
CREATE SEQUENCE @extschema@.ae_model_catalog_id_seq;

CREATE TABLE @extschema@.ae_model_catalog (
    id              bigint PRIMARY KEY
                    DEFAULT pg_catalog.nextval('@extschema@.ae_model_catalog_id_seq'::pg_catalog.regclass),
    name            text NOT NULL,
    version         integer NOT NULL,
    owner           regrole NOT NULL,
    created         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    source          text,                   -- training relation, schema-qualified; NULL for ae_fit/ae_save/ae_import
    columns         text[],                 -- input column names; NULL for array-input models
    config          jsonb NOT NULL,         -- the configuration actually used, defaults filled in
    n_inputs        integer NOT NULL,
    code_width      integer NOT NULL,
    layers          integer[] NOT NULL,     -- widths from input to output
    normalization   text NOT NULL,
    n_rows          bigint NOT NULL,
    epochs          integer NOT NULL,
    train_loss      double precision,       -- NULL when not known
    val_loss        double precision,       -- NULL without validation rows
    threshold       double precision,       -- NULL when not known
    bundle          bytea NOT NULL,         -- the ae_model bytes
    schema          text NOT NULL,          -- the schema the model lives in, by name
    CONSTRAINT ae_model_catalog_name_check
        CHECK (name OPERATOR(pg_catalog.<>) '' AND pg_catalog.octet_length(name) OPERATOR(pg_catalog.<=) 63),
    CONSTRAINT ae_model_catalog_version_check CHECK (version OPERATOR(pg_catalog.>=) 1),
    CONSTRAINT ae_model_catalog_schema_check
        CHECK (schema OPERATOR(pg_catalog.<>) '' AND pg_catalog.octet_length(schema) OPERATOR(pg_catalog.<=) 63),
    CONSTRAINT ae_model_catalog_schema_name_key UNIQUE (schema, name)
);
ALTER SEQUENCE @extschema@.ae_model_catalog_id_seq OWNED BY @extschema@.ae_model_catalog.id;

CREATE TABLE @extschema@.ae_model_grants (
    model_id        bigint NOT NULL REFERENCES @extschema@.ae_model_catalog (id) ON DELETE CASCADE,
    grantee         regrole NOT NULL,
    grantor         regrole NOT NULL,
    granted         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (model_id, grantee)
);

-- Who granted, revoked, renamed or dropped what, and when.  Names are kept as
-- text so the record outlives the roles and the model; model is the
-- schema-qualified name before the action.
CREATE SEQUENCE @extschema@.ae_model_audit_id_seq;

CREATE TABLE @extschema@.ae_model_audit (
    id              bigint PRIMARY KEY
                    DEFAULT pg_catalog.nextval('@extschema@.ae_model_audit_id_seq'::pg_catalog.regclass),
    at              timestamptz NOT NULL DEFAULT pg_catalog.now(),
    actor           text NOT NULL,          -- current_user
    session_actor   text NOT NULL,          -- session_user
    action          text NOT NULL,
    model_id        bigint NOT NULL,
    model           text NOT NULL,          -- the model's qualified name before the action
    role            text,                   -- grant, revoke, reassign: the grantee or new owner
    detail          text,                   -- rename: the new name; drop: the command when not ae_drop
    CONSTRAINT ae_model_audit_action_check
        CHECK (action OPERATOR(pg_catalog.=) ANY (ARRAY['grant', 'revoke', 'rename', 'drop', 'reassign']::pg_catalog.text[]))
);
ALTER SEQUENCE @extschema@.ae_model_audit_id_seq OWNED BY @extschema@.ae_model_audit.id;

REVOKE ALL ON @extschema@.ae_model_catalog, @extschema@.ae_model_grants, @extschema@.ae_model_audit FROM PUBLIC;
REVOKE ALL ON SEQUENCE @extschema@.ae_model_catalog_id_seq, @extschema@.ae_model_audit_id_seq FROM PUBLIC;

-- pg_dump/pg_restore carry the models, grants and audit over
SELECT pg_catalog.pg_extension_config_dump('@extschema@.ae_model_catalog'::pg_catalog.regclass, '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.ae_model_catalog_id_seq'::pg_catalog.regclass, '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.ae_model_grants'::pg_catalog.regclass, '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.ae_model_audit'::pg_catalog.regclass, '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.ae_model_audit_id_seq'::pg_catalog.regclass, '');

-- A change to the catalog or its grants sends a relcache invalidation of
-- ae_model_catalog, delivered to every backend at commit: per-backend model
-- caches register a relcache callback for that relation and drop what they
-- hold.
CREATE FUNCTION @extschema@.ae_catalog_invalidate() RETURNS trigger
    AS 'MODULE_PATHNAME', 'ae_catalog_invalidate'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE TRIGGER ae_model_catalog_invalidate
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.ae_model_catalog
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.ae_catalog_invalidate();

CREATE TRIGGER ae_model_grants_invalidate
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.ae_model_grants
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.ae_catalog_invalidate();

-- Fire also where session_replication_role = replica (a logical replication
-- subscriber applying a retrain): cached models and permission decisions
-- must hear of every change.
ALTER TABLE @extschema@.ae_model_catalog ENABLE ALWAYS TRIGGER ae_model_catalog_invalidate;
ALTER TABLE @extschema@.ae_model_grants ENABLE ALWAYS TRIGGER ae_model_grants_invalidate;

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

-- Management.  None of these is SECURITY DEFINER: the permission checks run
-- as the caller, and only the catalog statements run as the catalog's owner.
-- A model name is schema.name or a bare name, parsed like an SQL identifier
-- (quoted parts keep their case): a bare name is looked up in the schemas of
-- the search_path in order, and a new model goes into the first schema of
-- the path, as CREATE TABLE does.  Using a model needs USAGE on its schema,
-- creating one CREATE on it.
CREATE FUNCTION @extschema@.ae_save(name text, model @extschema@.ae_model) RETURNS integer
    AS 'MODULE_PATHNAME', 'ae_save'
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.ae_save(text, @extschema@.ae_model) IS 'store a model under a name (a new version if it exists)';

CREATE FUNCTION @extschema@.ae_load(name text) RETURNS @extschema@.ae_model
    AS 'MODULE_PATHNAME', 'ae_load'
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION @extschema@.ae_load(text) IS 'a stored model as an ae_model value (owner only)';

CREATE FUNCTION @extschema@.ae_history(model text)
    RETURNS TABLE (epoch integer, train_loss double precision,
                   val_loss double precision, seconds double precision)
    AS 'MODULE_PATHNAME', 'ae_history'
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED ROWS 100;

COMMENT ON FUNCTION @extschema@.ae_history(text) IS 'per-epoch losses and durations of a stored model';

CREATE FUNCTION @extschema@.ae_drop(model text, if_exists boolean DEFAULT false) RETURNS boolean
    AS 'MODULE_PATHNAME', 'ae_drop'
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.ae_drop(text, boolean) IS 'delete a stored model and its grants';

CREATE FUNCTION @extschema@.ae_rename(model text, new_name text) RETURNS void
    AS 'MODULE_PATHNAME', 'ae_rename'
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.ae_rename(text, text) IS 'rename a stored model, or move it to another schema (a qualified new name)';

-- REASSIGN OWNED fires no event trigger: this is its counterpart for models.
CREATE FUNCTION @extschema@.ae_reassign_owned(old_role regrole, new_role regrole) RETURNS integer
    AS 'MODULE_PATHNAME', 'ae_reassign_owned'
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.ae_reassign_owned(regrole, regrole) IS 'give every model owned by one role to another (as REASSIGN OWNED does for other objects)';

CREATE FUNCTION @extschema@.ae_grant(model text, role regrole) RETURNS void
    AS 'MODULE_PATHNAME', 'ae_grant'
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.ae_grant(text, regrole) IS 'let a role (and its members) use a model';

CREATE FUNCTION @extschema@.ae_revoke(model text, role regrole) RETURNS void
    AS 'MODULE_PATHNAME', 'ae_revoke'
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.ae_revoke(text, regrole) IS 'take back what ae_grant gave';

CREATE FUNCTION @extschema@.ae_export(model text) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'ae_export'
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION @extschema@.ae_export(text) IS 'a stored model as a JSON document (format autoenc, format_version 1)';

CREATE FUNCTION @extschema@.ae_import(doc jsonb, name text DEFAULT NULL) RETURNS integer
    AS 'MODULE_PATHNAME', 'ae_import'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.ae_import(jsonb, text) IS 'store a model from a JSON document; returns its version';

-- section: training (ae_train, ae_fit aggregate)

-- ae_train: train a model on every visible row of a relation and store it.
-- Every option defaults to NULL, which means the documented default.
CREATE FUNCTION @extschema@.ae_train(
    INOUT model text,
    relation regclass,
    input text,
    columns text[] DEFAULT NULL,
    hidden integer[] DEFAULT NULL,
    activation text DEFAULT NULL,
    output_activation text DEFAULT NULL,
    code_layer integer DEFAULT NULL,
    tied_weights boolean DEFAULT NULL,
    loss text DEFAULT NULL,
    optimizer text DEFAULT NULL,
    learning_rate double precision DEFAULT NULL,
    momentum double precision DEFAULT NULL,
    nesterov boolean DEFAULT NULL,
    weight_decay double precision DEFAULT NULL,
    clip_norm double precision DEFAULT NULL,
    lr_decay double precision DEFAULT NULL,
    batch_size integer DEFAULT NULL,
    epochs integer DEFAULT NULL,
    shuffle boolean DEFAULT NULL,
    "normalize" text DEFAULT NULL,      -- NORMALIZE is an SQL keyword: write "normalize" => ...
    noise text DEFAULT NULL,
    noise_level double precision DEFAULT NULL,
    l1_activity double precision DEFAULT NULL,
    sparsity_target double precision DEFAULT NULL,
    sparsity_weight double precision DEFAULT NULL,
    contractive double precision DEFAULT NULL,
    contractive_samples integer DEFAULT NULL,
    validation_fraction double precision DEFAULT NULL,
    patience integer DEFAULT NULL,
    contamination double precision DEFAULT NULL,
    seed bigint DEFAULT NULL,
    max_rows bigint DEFAULT NULL,
    skip_invalid boolean DEFAULT NULL,
    warm_start boolean DEFAULT NULL,
    verbose boolean DEFAULT NULL,
    data text DEFAULT NULL,
    shuffle_buffer bigint DEFAULT NULL,
    max_categories integer DEFAULT NULL,
    nulls text DEFAULT NULL,
    column_weights jsonb DEFAULT NULL,
    OUT version integer,
    OUT rows_used bigint,
    OUT epochs_run integer,
    OUT train_loss double precision,
    OUT val_loss double precision,
    OUT seconds double precision)
    RETURNS record
    AS 'MODULE_PATHNAME', 'ae_train_relation'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.ae_train(text, regclass, text, text[], integer[], text, text, integer,
    boolean, text, text, double precision, double precision, boolean, double precision,
    double precision, double precision, integer, integer, boolean, text, text,
    double precision, double precision, double precision, double precision,
    double precision, integer, double precision, integer, double precision, bigint, bigint,
    boolean, boolean, boolean, text, bigint, integer, text, jsonb)
    IS 'train an autoencoder on the rows of a relation and store it as a new model version';

-- ae_fit: the same training as an aggregate returning the model as a value.
CREATE FUNCTION @extschema@.ae_fit_transfn(internal, real[], jsonb) RETURNS internal
    AS 'MODULE_PATHNAME', 'ae_fit_transfn'
    LANGUAGE C VOLATILE PARALLEL SAFE;
CREATE FUNCTION @extschema@.ae_fit_transfn(internal, real[]) RETURNS internal
    AS 'MODULE_PATHNAME', 'ae_fit_transfn'
    LANGUAGE C VOLATILE PARALLEL SAFE;
CREATE FUNCTION @extschema@.ae_fit_transfn(internal, double precision[], jsonb) RETURNS internal
    AS 'MODULE_PATHNAME', 'ae_fit_transfn'
    LANGUAGE C VOLATILE PARALLEL SAFE;
CREATE FUNCTION @extschema@.ae_fit_transfn(internal, double precision[]) RETURNS internal
    AS 'MODULE_PATHNAME', 'ae_fit_transfn'
    LANGUAGE C VOLATILE PARALLEL SAFE;
CREATE FUNCTION @extschema@.ae_fit_combinefn(internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'ae_fit_combinefn'
    LANGUAGE C VOLATILE PARALLEL SAFE;
CREATE FUNCTION @extschema@.ae_fit_serialfn(internal) RETURNS bytea
    AS 'MODULE_PATHNAME', 'ae_fit_serialfn'
    LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
CREATE FUNCTION @extschema@.ae_fit_deserialfn(bytea, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'ae_fit_deserialfn'
    LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
CREATE FUNCTION @extschema@.ae_fit_finalfn(internal) RETURNS @extschema@.ae_model
    AS 'MODULE_PATHNAME', 'ae_fit_finalfn'
    LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE AGGREGATE @extschema@.ae_fit(real[], jsonb) (
    SFUNC = @extschema@.ae_fit_transfn, STYPE = internal,
    COMBINEFUNC = @extschema@.ae_fit_combinefn,
    SERIALFUNC = @extschema@.ae_fit_serialfn, DESERIALFUNC = @extschema@.ae_fit_deserialfn,
    FINALFUNC = @extschema@.ae_fit_finalfn,
    PARALLEL = SAFE);
CREATE AGGREGATE @extschema@.ae_fit(real[]) (
    SFUNC = @extschema@.ae_fit_transfn, STYPE = internal,
    COMBINEFUNC = @extschema@.ae_fit_combinefn,
    SERIALFUNC = @extschema@.ae_fit_serialfn, DESERIALFUNC = @extschema@.ae_fit_deserialfn,
    FINALFUNC = @extschema@.ae_fit_finalfn,
    PARALLEL = SAFE);
CREATE AGGREGATE @extschema@.ae_fit(double precision[], jsonb) (
    SFUNC = @extschema@.ae_fit_transfn, STYPE = internal,
    COMBINEFUNC = @extschema@.ae_fit_combinefn,
    SERIALFUNC = @extschema@.ae_fit_serialfn, DESERIALFUNC = @extschema@.ae_fit_deserialfn,
    FINALFUNC = @extschema@.ae_fit_finalfn,
    PARALLEL = SAFE);
CREATE AGGREGATE @extschema@.ae_fit(double precision[]) (
    SFUNC = @extschema@.ae_fit_transfn, STYPE = internal,
    COMBINEFUNC = @extschema@.ae_fit_combinefn,
    SERIALFUNC = @extschema@.ae_fit_serialfn, DESERIALFUNC = @extschema@.ae_fit_deserialfn,
    FINALFUNC = @extschema@.ae_fit_finalfn,
    PARALLEL = SAFE);

COMMENT ON AGGREGATE @extschema@.ae_fit(real[], jsonb) IS 'train an autoencoder on the rows of a group; options as in ae_train';
COMMENT ON AGGREGATE @extschema@.ae_fit(real[]) IS 'train an autoencoder on the rows of a group with the default options';
COMMENT ON AGGREGATE @extschema@.ae_fit(double precision[], jsonb) IS 'train an autoencoder on the rows of a group; options as in ae_train';
COMMENT ON AGGREGATE @extschema@.ae_fit(double precision[]) IS 'train an autoencoder on the rows of a group with the default options';

-- ae_fit over a row (a table's row, ROW(...) or any composite value): every
-- field is an input column, by its name; categorical, date/time and NULL
-- fields are encoded as ae_train encodes columns.
CREATE FUNCTION @extschema@.ae_fit_row_transfn(internal, record, jsonb) RETURNS internal
    AS 'MODULE_PATHNAME', 'ae_fit_row_transfn'
    LANGUAGE C VOLATILE PARALLEL SAFE;
CREATE FUNCTION @extschema@.ae_fit_row_transfn(internal, record) RETURNS internal
    AS 'MODULE_PATHNAME', 'ae_fit_row_transfn'
    LANGUAGE C VOLATILE PARALLEL SAFE;
CREATE AGGREGATE @extschema@.ae_fit(record, jsonb) (
    SFUNC = @extschema@.ae_fit_row_transfn, STYPE = internal,
    COMBINEFUNC = @extschema@.ae_fit_combinefn,
    SERIALFUNC = @extschema@.ae_fit_serialfn, DESERIALFUNC = @extschema@.ae_fit_deserialfn,
    FINALFUNC = @extschema@.ae_fit_finalfn,
    PARALLEL = SAFE);
CREATE AGGREGATE @extschema@.ae_fit(record) (
    SFUNC = @extschema@.ae_fit_row_transfn, STYPE = internal,
    COMBINEFUNC = @extschema@.ae_fit_combinefn,
    SERIALFUNC = @extschema@.ae_fit_serialfn, DESERIALFUNC = @extschema@.ae_fit_deserialfn,
    FINALFUNC = @extschema@.ae_fit_finalfn,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.ae_fit(record, jsonb) IS 'train an autoencoder on the rows of a group, a row''s fields as its columns; options as in ae_train';
COMMENT ON AGGREGATE @extschema@.ae_fit(record) IS 'train an autoencoder on the rows of a group, a row''s fields as its columns, with the default options';

-- section: scoring (encode, decode, reconstruct, error, explain, anomaly flags, trigger)

-- Every scoring function takes the model's name first and its input second:
-- a real[] or double precision[] array, or a row value for a model trained
-- on named columns (its columns are picked from the row by name).  They read
-- the catalog, so they are STABLE, never IMMUTABLE; scoring keeps a
-- per-backend cache of ready models, refreshed when the catalog changes.
-- missing => 'impute' replaces NULL and NaN inputs by the training mean.

CREATE FUNCTION @extschema@.ae_encode(model text, x real[], missing text DEFAULT 'error') RETURNS real[]
    AS 'MODULE_PATHNAME', 'ae_encode'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.ae_encode(model text, x double precision[], missing text DEFAULT 'error') RETURNS real[]
    AS 'MODULE_PATHNAME', 'ae_encode'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.ae_encode(model text, x record, missing text DEFAULT 'error') RETURNS real[]
    AS 'MODULE_PATHNAME', 'ae_encode_row'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.ae_encode(text, real[], text) IS 'the code (bottleneck activations) of a row';
COMMENT ON FUNCTION @extschema@.ae_encode(text, double precision[], text) IS 'the code (bottleneck activations) of a row';
COMMENT ON FUNCTION @extschema@.ae_encode(text, record, text) IS 'the code (bottleneck activations) of a row';

CREATE FUNCTION @extschema@.ae_decode(model text, code real[]) RETURNS real[]
    AS 'MODULE_PATHNAME', 'ae_decode'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.ae_decode(model text, code double precision[]) RETURNS real[]
    AS 'MODULE_PATHNAME', 'ae_decode'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.ae_decode(text, real[]) IS 'the decoder''s output for a code, in original units';
COMMENT ON FUNCTION @extschema@.ae_decode(text, double precision[]) IS 'the decoder''s output for a code, in original units';

CREATE FUNCTION @extschema@.ae_reconstruct(model text, x real[], missing text DEFAULT 'error') RETURNS real[]
    AS 'MODULE_PATHNAME', 'ae_reconstruct'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.ae_reconstruct(model text, x double precision[], missing text DEFAULT 'error') RETURNS real[]
    AS 'MODULE_PATHNAME', 'ae_reconstruct'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.ae_reconstruct(model text, x record, missing text DEFAULT 'error') RETURNS real[]
    AS 'MODULE_PATHNAME', 'ae_reconstruct_row'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.ae_reconstruct(text, real[], text) IS 'the reconstruction of a row, in original units';
COMMENT ON FUNCTION @extschema@.ae_reconstruct(text, double precision[], text) IS 'the reconstruction of a row, in original units';
COMMENT ON FUNCTION @extschema@.ae_reconstruct(text, record, text) IS 'the reconstruction of a row, in original units';

-- ae_reconstruct_row: the row itself, each of the model's columns replaced by
-- its reconstruction in the column's own type (the most likely category of a
-- categorical column; NULL where the model expects NULL or "other").
CREATE FUNCTION @extschema@.ae_reconstruct_row(model text, x anyelement, missing text DEFAULT 'error') RETURNS anyelement
    AS 'MODULE_PATHNAME', 'ae_reconstruct_into_row'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.ae_reconstruct_row(text, anyelement, text) IS 'a row with the model''s columns replaced by their reconstruction';

CREATE FUNCTION @extschema@.ae_error(model text, x real[], metric text DEFAULT 'mse', missing text DEFAULT 'error')
    RETURNS double precision
    AS 'MODULE_PATHNAME', 'ae_error'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.ae_error(model text, x double precision[], metric text DEFAULT 'mse', missing text DEFAULT 'error')
    RETURNS double precision
    AS 'MODULE_PATHNAME', 'ae_error'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.ae_error(model text, x record, metric text DEFAULT 'mse', missing text DEFAULT 'error')
    RETURNS double precision
    AS 'MODULE_PATHNAME', 'ae_error_row'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.ae_error(text, real[], text, text) IS 'reconstruction error of a row in normalised space: mse, mae, rmse, max or bce';
COMMENT ON FUNCTION @extschema@.ae_error(text, double precision[], text, text) IS 'reconstruction error of a row in normalised space: mse, mae, rmse, max or bce';
COMMENT ON FUNCTION @extschema@.ae_error(text, record, text, text) IS 'reconstruction error of a row in normalised space: mse, mae, rmse, max or bce';

CREATE FUNCTION @extschema@.ae_feature_errors(model text, x real[], missing text DEFAULT 'error') RETURNS real[]
    AS 'MODULE_PATHNAME', 'ae_feature_errors'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.ae_feature_errors(model text, x double precision[], missing text DEFAULT 'error') RETURNS real[]
    AS 'MODULE_PATHNAME', 'ae_feature_errors'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.ae_feature_errors(model text, x record, missing text DEFAULT 'error') RETURNS real[]
    AS 'MODULE_PATHNAME', 'ae_feature_errors_row'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.ae_feature_errors(text, real[], text) IS 'squared reconstruction error of each feature, in normalised space';
COMMENT ON FUNCTION @extschema@.ae_feature_errors(text, double precision[], text) IS 'squared reconstruction error of each feature, in normalised space';
COMMENT ON FUNCTION @extschema@.ae_feature_errors(text, record, text) IS 'squared reconstruction error of each feature, in normalised space';

CREATE FUNCTION @extschema@.ae_explain(model text, x real[], k integer DEFAULT 3, missing text DEFAULT 'error')
    RETURNS TABLE (feature text, error double precision, share double precision, detail text)
    AS 'MODULE_PATHNAME', 'ae_explain'
    LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 3;
CREATE FUNCTION @extschema@.ae_explain(model text, x double precision[], k integer DEFAULT 3, missing text DEFAULT 'error')
    RETURNS TABLE (feature text, error double precision, share double precision, detail text)
    AS 'MODULE_PATHNAME', 'ae_explain'
    LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 3;
CREATE FUNCTION @extschema@.ae_explain(model text, x record, k integer DEFAULT 3, missing text DEFAULT 'error')
    RETURNS TABLE (feature text, error double precision, share double precision, detail text)
    AS 'MODULE_PATHNAME', 'ae_explain_row'
    LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 3;

COMMENT ON FUNCTION @extschema@.ae_explain(text, real[], integer, text) IS 'the k features (columns) contributing most to a row''s reconstruction error, with what was observed and expected';
COMMENT ON FUNCTION @extschema@.ae_explain(text, double precision[], integer, text) IS 'the k features (columns) contributing most to a row''s reconstruction error, with what was observed and expected';
COMMENT ON FUNCTION @extschema@.ae_explain(text, record, integer, text) IS 'the k features (columns) contributing most to a row''s reconstruction error, with what was observed and expected';

CREATE FUNCTION @extschema@.ae_anomaly_score(model text, x real[], missing text DEFAULT 'error') RETURNS double precision
    AS 'MODULE_PATHNAME', 'ae_anomaly_score'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.ae_anomaly_score(model text, x double precision[], missing text DEFAULT 'error') RETURNS double precision
    AS 'MODULE_PATHNAME', 'ae_anomaly_score'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.ae_anomaly_score(model text, x record, missing text DEFAULT 'error') RETURNS double precision
    AS 'MODULE_PATHNAME', 'ae_anomaly_score_row'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.ae_anomaly_score(text, real[], text) IS 'share of training rows reconstructed better than this row, in [0, 1]';
COMMENT ON FUNCTION @extschema@.ae_anomaly_score(text, double precision[], text) IS 'share of training rows reconstructed better than this row, in [0, 1]';
COMMENT ON FUNCTION @extschema@.ae_anomaly_score(text, record, text) IS 'share of training rows reconstructed better than this row, in [0, 1]';

-- not STRICT: a NULL contamination means the stored threshold
CREATE FUNCTION @extschema@.ae_is_anomaly(model text, x real[], contamination double precision DEFAULT NULL,
                              missing text DEFAULT 'error') RETURNS boolean
    AS 'MODULE_PATHNAME', 'ae_is_anomaly'
    LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.ae_is_anomaly(model text, x double precision[], contamination double precision DEFAULT NULL,
                              missing text DEFAULT 'error') RETURNS boolean
    AS 'MODULE_PATHNAME', 'ae_is_anomaly'
    LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.ae_is_anomaly(model text, x record, contamination double precision DEFAULT NULL,
                              missing text DEFAULT 'error') RETURNS boolean
    AS 'MODULE_PATHNAME', 'ae_is_anomaly_row'
    LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.ae_is_anomaly(text, real[], double precision, text) IS 'whether a row''s error is above the stored threshold (or the 1 - contamination training quantile)';
COMMENT ON FUNCTION @extschema@.ae_is_anomaly(text, double precision[], double precision, text) IS 'whether a row''s error is above the stored threshold (or the 1 - contamination training quantile)';
COMMENT ON FUNCTION @extschema@.ae_is_anomaly(text, record, double precision, text) IS 'whether a row''s error is above the stored threshold (or the 1 - contamination training quantile)';

-- CREATE TRIGGER ... BEFORE INSERT OR UPDATE ON t FOR EACH ROW
--     EXECUTE FUNCTION ae_score_trigger(model, input_column, output_column [, action])
CREATE FUNCTION @extschema@.ae_score_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME', 'ae_score_trigger'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.ae_score_trigger() IS 'trigger: write a row''s reconstruction error, anomaly score or flag into a column, or reject anomalies';

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

-- section: sharded training (doc/scaling.md)
--
-- ae_train_sharded trains on a table whose partitions may be foreign tables
-- on other servers (postgres_fdw): every shard computes the gradient sums of
-- its rows of each global batch, the coordinator adds them and steps the
-- optimiser, so the model equals a training on one server with the same key
-- and seed.  The ae_shard_* functions are the shard side, called by the
-- coordinator over its own connection; a shard keeps its rows in the
-- backend between calls.  The bytea values are versioned partial states
-- (checked before use).

CREATE FUNCTION @extschema@.ae_train_sharded(
    model pg_catalog.text,
    relation pg_catalog.regclass,
    columns pg_catalog.text[],
    key pg_catalog.text,
    options pg_catalog.jsonb DEFAULT '{}',
    mode pg_catalog.text DEFAULT 'exact',
    OUT version pg_catalog.int4,
    OUT rows_used pg_catalog.int8,
    OUT epochs_run pg_catalog.int4,
    OUT train_loss pg_catalog.float8,
    OUT val_loss pg_catalog.float8,
    OUT seconds pg_catalog.float8,
    OUT shards pg_catalog.int4)
    RETURNS record
    AS 'MODULE_PATHNAME', 'ae_train_sharded'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.ae_train_sharded(pg_catalog.text, pg_catalog.regclass, pg_catalog.text[], pg_catalog.text, pg_catalog.jsonb, pg_catalog.text)
    IS 'train an autoencoder across the partitions of a table, local and foreign, exactly as on one server; batches by a seeded hash of key';

CREATE FUNCTION @extschema@.ae_shard_open(session pg_catalog.text, relation pg_catalog.regclass,
    columns pg_catalog.text[], key pg_catalog.text, seed pg_catalog.int8,
    validation_fraction pg_catalog.float8, max_rows pg_catalog.int8 DEFAULT 0) RETURNS pg_catalog.bytea
    AS 'MODULE_PATHNAME', 'ae_shard_open'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

CREATE FUNCTION @extschema@.ae_shard_count_below(session pg_catalog.text, threshold pg_catalog.int8)
    RETURNS pg_catalog.int8
    AS 'MODULE_PATHNAME', 'ae_shard_count_below'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

CREATE FUNCTION @extschema@.ae_shard_keep_below(session pg_catalog.text, threshold pg_catalog.int8)
    RETURNS pg_catalog.bytea
    AS 'MODULE_PATHNAME', 'ae_shard_keep_below'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

CREATE FUNCTION @extschema@.ae_shard_normalize(session pg_catalog.text, "offset" pg_catalog.float4[],
    scale pg_catalog.float4[]) RETURNS pg_catalog.int8
    AS 'MODULE_PATHNAME', 'ae_shard_normalize'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

CREATE FUNCTION @extschema@.ae_shard_step(session pg_catalog.text, snapshot pg_catalog.bytea,
    epoch pg_catalog.int4, batch pg_catalog.int4, n_batches pg_catalog.int4) RETURNS pg_catalog.bytea
    AS 'MODULE_PATHNAME', 'ae_shard_step'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

CREATE FUNCTION @extschema@.ae_shard_eval(session pg_catalog.text, snapshot pg_catalog.bytea,
    what pg_catalog.int4) RETURNS pg_catalog.bytea
    AS 'MODULE_PATHNAME', 'ae_shard_eval'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

CREATE FUNCTION @extschema@.ae_shard_local(session pg_catalog.text, snapshot pg_catalog.bytea,
    options pg_catalog.jsonb, round pg_catalog.int4) RETURNS pg_catalog.bytea
    AS 'MODULE_PATHNAME', 'ae_shard_local'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

CREATE FUNCTION @extschema@.ae_shard_close(session pg_catalog.text) RETURNS pg_catalog.bool
    AS 'MODULE_PATHNAME', 'ae_shard_close'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

CREATE FUNCTION @extschema@.ae_shard_sessions() RETURNS pg_catalog.int4
    AS 'MODULE_PATHNAME', 'ae_shard_sessions'
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.ae_shard_open(pg_catalog.text, pg_catalog.regclass, pg_catalog.text[], pg_catalog.text, pg_catalog.int8, pg_catalog.float8, pg_catalog.int8)
    IS 'shard side of ae_train_sharded: read this server''s rows once into the backend (with max_rows, those of smallest sample hash); returns their statistics';
COMMENT ON FUNCTION @extschema@.ae_shard_count_below(pg_catalog.text, pg_catalog.int8)
    IS 'shard side of ae_train_sharded with max_rows: the rows held whose sample hash is at most threshold';
COMMENT ON FUNCTION @extschema@.ae_shard_keep_below(pg_catalog.text, pg_catalog.int8)
    IS 'shard side of ae_train_sharded with max_rows: keep the rows whose sample hash is at most threshold; returns their statistics';
COMMENT ON FUNCTION @extschema@.ae_shard_step(pg_catalog.text, pg_catalog.bytea, pg_catalog.int4, pg_catalog.int4, pg_catalog.int4)
    IS 'shard side of ae_train_sharded: gradient sums of this shard''s rows of one batch';
COMMENT ON FUNCTION @extschema@.ae_shard_sessions() IS 'number of shard sessions this backend holds rows for';

-- PL/Proxy: the same training over the partitions of a PL/Proxy cluster
-- defined with SQL/MED (CREATE SERVER c FOREIGN DATA WRAPPER plproxy
-- OPTIONS (p0 'connstr', p1 ...)); relation is resolved on each partition.
CREATE FUNCTION @extschema@.ae_train_plproxy(
    model pg_catalog.text,
    cluster pg_catalog.text,
    relation pg_catalog.text,
    columns pg_catalog.text[],
    key pg_catalog.text,
    options pg_catalog.jsonb DEFAULT '{}',
    mode pg_catalog.text DEFAULT 'exact',
    OUT version pg_catalog.int4,
    OUT rows_used pg_catalog.int8,
    OUT epochs_run pg_catalog.int4,
    OUT train_loss pg_catalog.float8,
    OUT val_loss pg_catalog.float8,
    OUT seconds pg_catalog.float8,
    OUT shards pg_catalog.int4)
    RETURNS record
    AS 'MODULE_PATHNAME', 'ae_train_plproxy'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.ae_train_plproxy(pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text[], pg_catalog.text, pg_catalog.jsonb, pg_catalog.text)
    IS 'train an autoencoder across the partitions of a PL/Proxy cluster, exactly as on one server';

-- ae_grad_agg: one optimiser step's gradient sums over rows, as an
-- aggregate over a concrete state type (ae_grad, text form "AEGA1:" and
-- base64) that distributed engines compute on their workers: Citus, the
-- aggregate pushdown of postgres_fdw, a parallel plan (doc/scaling.md).
CREATE TYPE @extschema@.ae_grad;
CREATE FUNCTION @extschema@.ae_grad_in(pg_catalog.cstring) RETURNS @extschema@.ae_grad
    AS 'MODULE_PATHNAME', 'ae_grad_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.ae_grad_out(@extschema@.ae_grad) RETURNS pg_catalog.cstring
    AS 'MODULE_PATHNAME', 'ae_grad_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.ae_grad_recv(pg_catalog.internal) RETURNS @extschema@.ae_grad
    AS 'MODULE_PATHNAME', 'ae_grad_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.ae_grad_send(@extschema@.ae_grad) RETURNS pg_catalog.bytea
    AS 'MODULE_PATHNAME', 'ae_grad_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE @extschema@.ae_grad (
    INPUT = @extschema@.ae_grad_in, OUTPUT = @extschema@.ae_grad_out,
    RECEIVE = @extschema@.ae_grad_recv, SEND = @extschema@.ae_grad_send,
    INTERNALLENGTH = VARIABLE, ALIGNMENT = double, STORAGE = extended);
COMMENT ON TYPE @extschema@.ae_grad IS 'partial gradient sums of an optimiser step (ae_grad_agg)';
CREATE FUNCTION @extschema@.ae_grad_transfn(@extschema@.ae_grad, pg_catalog.bytea, pg_catalog.float4[])
    RETURNS @extschema@.ae_grad
    AS 'MODULE_PATHNAME', 'ae_grad_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.ae_grad_combinefn(@extschema@.ae_grad, @extschema@.ae_grad)
    RETURNS @extschema@.ae_grad
    AS 'MODULE_PATHNAME', 'ae_grad_combinefn' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE AGGREGATE @extschema@.ae_grad_agg(snapshot pg_catalog.bytea, x pg_catalog.float4[]) (
    SFUNC = @extschema@.ae_grad_transfn, STYPE = @extschema@.ae_grad,
    COMBINEFUNC = @extschema@.ae_grad_combinefn, PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.ae_grad_agg(pg_catalog.bytea, pg_catalog.float4[]) IS 'the gradient sums of the rows of one optimiser step, at a weights snapshot';
CREATE FUNCTION @extschema@.ae_grad_finish(partial @extschema@.ae_grad, snapshot pg_catalog.bytea)
    RETURNS pg_catalog.bytea
    AS 'MODULE_PATHNAME', 'ae_grad_finish' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.ae_grad_finish(@extschema@.ae_grad, pg_catalog.bytea) IS 'the step''s gradient state from ae_grad_agg''s partial sums';
CREATE FUNCTION @extschema@.ae_grad_snapshot(model pg_catalog.text) RETURNS pg_catalog.bytea
    AS 'MODULE_PATHNAME', 'ae_grad_snapshot' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.ae_grad_snapshot(pg_catalog.text) IS 'a weights snapshot of a stored model, with its normalisation, for ae_grad_agg';
CREATE FUNCTION @extschema@.ae_shard_batch(key pg_catalog.text, seed pg_catalog.int8, epoch pg_catalog.int4,
    n_batches pg_catalog.int4) RETURNS pg_catalog.int4
    AS 'MODULE_PATHNAME', 'ae_shard_batch' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.ae_shard_batch(pg_catalog.text, pg_catalog.int8, pg_catalog.int4, pg_catalog.int4) IS 'the batch (1-based) of a row of this key in an epoch of a sharded training';
CREATE FUNCTION @extschema@.ae_shard_is_validation(key pg_catalog.text, seed pg_catalog.int8,
    validation_fraction pg_catalog.float8) RETURNS pg_catalog.bool
    AS 'MODULE_PATHNAME', 'ae_shard_is_validation' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.ae_shard_is_validation(pg_catalog.text, pg_catalog.int8, pg_catalog.float8) IS 'whether a row of this key is a validation row of a sharded training';
CREATE FUNCTION @extschema@.ae_partial_info(state pg_catalog.bytea) RETURNS pg_catalog.jsonb
    AS 'MODULE_PATHNAME', 'ae_partial_info' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.ae_partial_info(pg_catalog.bytea) IS 'a partial state of a sharded training, checked and described';
