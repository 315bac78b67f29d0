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

-- ae_train gains the options data and shuffle_buffer (streaming training)
-- and max_categories, nulls and column_weights (mixed-type columns): the
-- 0.1.0 signature goes, the new one is the install script's.
DROP FUNCTION @extschema@.ae_train(text, regclass, text, text[], integer[], text, text, integer,
    boolean, text, text, double precision, double precision, boolean, double precision,
    double precision, double precision, integer, integer, boolean, text, text,
    double precision, double precision, double precision, double precision,
    double precision, integer, double precision, integer, double precision, bigint, bigint,
    boolean, boolean, boolean);

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

-- ae_explain gains the column detail (observed and expected value; per
-- column for mixed-type models): a result type cannot change in place.
DROP FUNCTION @extschema@.ae_explain(text, real[], integer, text);
DROP FUNCTION @extschema@.ae_explain(text, double precision[], integer, text);
DROP FUNCTION @extschema@.ae_explain(text, record, integer, text);

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

-- ae_reconstruct_row: the row itself, each of the model's columns replaced by
-- its reconstruction in the column's own type (the most likely category of a
-- categorical column; NULL where the model expects NULL or "other").
CREATE FUNCTION @extschema@.ae_reconstruct_row(model text, x anyelement, missing text DEFAULT 'error') RETURNS anyelement
    AS 'MODULE_PATHNAME', 'ae_reconstruct_into_row'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.ae_reconstruct_row(text, anyelement, text) IS 'a row with the model''s columns replaced by their reconstruction';

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
