-- autoenc 0.1.0: autoencoders trained and scored inside PostgreSQL.

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION autoenc" to load this file. \quit

-- version

CREATE FUNCTION ae_version() RETURNS text
    AS 'MODULE_PATHNAME', 'ae_version'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION ae_version() IS 'version of the loaded autoenc library';

-- section: catalog (model storage, ae_model type, management, import/export)

-- section: training (ae_train, ae_fit aggregate)

-- section: scoring (encode, decode, reconstruct, error, explain, anomaly flags, trigger)
