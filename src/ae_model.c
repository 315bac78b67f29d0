/*
 * ae_model.c — the ae_model SQL type: a varlena holding a serialized model
 * bundle (src/core/ae_bundle.h).
 *
 * Text form: the base64 encoding of the bytes (whitespace ignored on input),
 * so that a value survives COPY and pg_dump unchanged.  Binary form: the
 * bytes themselves.  Every way in — text, binary, the cast from bytea —
 * parses the value completely, so a corrupted or truncated value is refused
 * with XX001 (data_corrupted) and never reaches a function that uses it.
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>

#include "common/base64.h"
#include "common/jsonapi.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "ae_catalog.h"
#include "ae_compat.h"
#include "ae_json.h"
#include "autoenc.h"

static int
CompareNames(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/*
 * What the pure-C reader leaves to the SQL layer: the configuration is a JSON
 * object, every text is valid in the database encoding, no column name
 * appears twice and the row count fits a model document (2^53, as in
 * ae_import), as every writer makes them.  Otherwise ae_save would store
 * text that is not valid in the database (pg_dump's output could not be
 * restored), or a model that ae_export writes and ae_import refuses.  NULL
 * when all is well.
 */
static const char *
ModelProblem(const AeBundle *b)
{
	const char *p = b->columns;
	const char **names = b->n_columns > 0 ? palloc(b->n_columns * sizeof(char *)) : NULL;

	if (b->n_rows > (INT64CONST(1) << 53))
		return "the row count is above 2^53, more than a model document can hold";

	if (b->config_json != NULL)
	{
		char	   *config = b->config_json;
		size_t		len = strlen(config);
		JsonLexContext *lex;

		if (!pg_verifymbstr(config, (int) len, true))
			return "the configuration is not valid text in the database encoding";
		lex = makeJsonLexContextCstringLen(NULL, config, (int) len, GetDatabaseEncoding(), false);
		while (*config == ' ' || *config == '\t' || *config == '\n' || *config == '\r')
			config++;
		if (*config != '{' || pg_parse_json(lex, &nullSemAction) != JSON_SUCCESS)
			return "the configuration is not a JSON object";
	}
	for (int i = 0; i < b->n_columns; i++)
	{
		size_t		len = strlen(p);

		if (!pg_verifymbstr(p, (int) len, true))
			return "a column name is not valid text in the database encoding";
		names[i] = p;
		p += len + 1;
	}
	if (b->n_columns > 1)
	{
		qsort(names, b->n_columns, sizeof(char *), CompareNames);
		for (int i = 1; i < b->n_columns; i++)
			if (strcmp(names[i - 1], names[i]) == 0)
				return "a column name appears more than once";
	}
	return NULL;
}

/* Parse len bytes completely (in a scratch context) or raise XX001. */
static void
CheckModelBytes(const char *data, size_t len)
{
	MemoryContext scratch = AllocSetContextCreate(CurrentMemoryContext,
												  "ae_model check",
												  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(scratch);
	AeBundle	bundle;
	char		errbuf[AE_ERRBUF_SIZE];
	AeStatus	st;
	const char *problem = NULL;

	st = ae_bundle_deserialize((const uint8_t *) data, len, &bundle, &ae_palloc_allocator, errbuf);
	if (st == AE_OK && (problem = ModelProblem(&bundle)) != NULL)
	{
		st = AE_ERR_FORMAT;
		strlcpy(errbuf, problem, sizeof(errbuf));
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(scratch);
	if (st != AE_OK)
		ae_check_status(st, errbuf, "invalid ae_model value");
}

bytea *
ae_bundle_to_varlena(const AeBundle *bundle)
{
	size_t		size = ae_bundle_serialized_size(bundle);
	bytea	   *value;

	if (size > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("model is too large to store"),
				 errdetail("The serialized model needs %zu bytes; a value holds at most %zu.",
						   size, (size_t) (MaxAllocSize - VARHDRSZ))));
	value = palloc(VARHDRSZ + size);
	SET_VARSIZE(value, VARHDRSZ + size);
	ae_bundle_serialize(bundle, (uint8_t *) VARDATA(value));
	CheckModelBytes(VARDATA(value), size);
	return value;
}

AeBundle *
ae_varlena_to_bundle(const bytea *value, const char *context)
{
	AeBundle   *bundle = palloc0(sizeof(AeBundle));
	char		errbuf[AE_ERRBUF_SIZE];
	AeStatus	st;

	st = ae_bundle_deserialize((const uint8_t *) VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value),
							   bundle, &ae_palloc_allocator, errbuf);
	if (st != AE_OK)
		ae_check_status(st, errbuf, context ? context : "invalid ae_model value");
	return bundle;
}

/* ---------------------------------------------------------------- I/O */

PG_FUNCTION_INFO_V1(ae_model_in);
Datum
ae_model_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	size_t		len = strlen(str);
	int			maxlen;
	int			n;
	bytea	   *value;

	if (len > (size_t) INT_MAX / 3)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("ae_model text is too long")));
	maxlen = pg_b64_dec_len((int) len);
	value = palloc(VARHDRSZ + maxlen + 1);
	n = pg_b64_decode(str, (int) len, (ae_b64_byte *) VARDATA(value), maxlen);
	if (n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type ae_model: \"%.32s%s\"",
						str, len > 32 ? "..." : ""),
				 errdetail("The text form of an ae_model value is the base64 encoding of its binary format.")));
	SET_VARSIZE(value, VARHDRSZ + n);
	CheckModelBytes(VARDATA(value), n);
	PG_RETURN_BYTEA_P(value);
}

PG_FUNCTION_INFO_V1(ae_model_out);
Datum
ae_model_out(PG_FUNCTION_ARGS)
{
	bytea	   *value = PG_GETARG_BYTEA_PP(0);
	size_t		len = VARSIZE_ANY_EXHDR(value);
	int			maxlen;
	char	   *out;
	int			n;

	if (len > (size_t) (MaxAllocSize / 4) * 3 - 3)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("ae_model value is too large for its text form"),
				 errhint("Use binary transfer, or ae_export() for a JSON document.")));
	maxlen = pg_b64_enc_len((int) len);
	out = palloc(maxlen + 1);
	n = pg_b64_encode((const ae_b64_byte *) VARDATA_ANY(value), (int) len, out, maxlen);
	if (n < 0)
		elog(ERROR, "could not encode an ae_model value as base64");
	out[n] = '\0';
	PG_RETURN_CSTRING(out);
}

PG_FUNCTION_INFO_V1(ae_model_recv);
Datum
ae_model_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			n = buf->len - buf->cursor;
	bytea	   *value = palloc(VARHDRSZ + n);

	SET_VARSIZE(value, VARHDRSZ + n);
	pq_copymsgbytes(buf, VARDATA(value), n);
	CheckModelBytes(VARDATA(value), n);
	PG_RETURN_BYTEA_P(value);
}

PG_FUNCTION_INFO_V1(ae_model_send);
Datum
ae_model_send(PG_FUNCTION_ARGS)
{
	bytea	   *value = PG_GETARG_BYTEA_PP(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbytes(&buf, VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* The cast bytea -> ae_model: the same bytes, once they have been checked. */
PG_FUNCTION_INFO_V1(ae_model_from_bytea);
Datum
ae_model_from_bytea(PG_FUNCTION_ARGS)
{
	bytea	   *value = PG_GETARG_BYTEA_PP(0);

	CheckModelBytes(VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value));
	PG_RETURN_BYTEA_P(value);
}

/* ---------------------------------------------------------------- summary */

PG_FUNCTION_INFO_V1(ae_model_info);
Datum
ae_model_info(PG_FUNCTION_ARGS)
{
	bytea	   *value = PG_GETARG_BYTEA_PP(0);
	AeBundle   *b = ae_varlena_to_bundle(value, NULL);
	const AeArch *a = &b->arch;
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	/* the version these bytes are in (ae_varlena_to_bundle checked the header) */
	ae_json_key(&buf, "format_version", true);
	appendStringInfo(&buf, "%d", (int) ((const uint8 *) VARDATA_ANY(value))[4] |
					 (int) ((const uint8 *) VARDATA_ANY(value))[5] << 8);
	ae_json_key(&buf, "bytes", false);
	appendStringInfo(&buf, "%zu", VARSIZE_ANY_EXHDR(value));
	ae_json_key(&buf, "n_inputs", false);
	appendStringInfo(&buf, "%d", a->n_inputs);
	ae_json_key(&buf, "layers", false);
	appendStringInfo(&buf, "[%d", a->n_inputs);
	for (int i = 0; i < a->n_hidden; i++)
		appendStringInfo(&buf, ", %d", a->hidden[i]);
	appendStringInfo(&buf, ", %d]", a->n_inputs);
	ae_json_key(&buf, "activations", false);
	appendStringInfoChar(&buf, '[');
	for (int i = 0; i < a->n_hidden; i++)
	{
		escape_json(&buf, ae_activation_name(a->hidden_act[i]));
		appendStringInfoString(&buf, ", ");
	}
	escape_json(&buf, ae_activation_name(a->output_act));
	appendStringInfoChar(&buf, ']');
	ae_json_key(&buf, "code_layer", false);
	appendStringInfo(&buf, "%d", a->code_layer);
	ae_json_key(&buf, "code_width", false);
	appendStringInfo(&buf, "%d", a->hidden[a->code_layer]);
	ae_json_key(&buf, "tied", false);
	appendStringInfoString(&buf, a->tied ? "true" : "false");
	ae_json_key(&buf, "n_params", false);
	appendStringInfo(&buf, "%zu", ae_arch_param_count(a));
	ae_json_key(&buf, "normalization", false);
	escape_json(&buf, ae_norm_name(b->norm_method));
	ae_json_key(&buf, "threshold", false);
	ae_json_float8(&buf, b->threshold);
	ae_json_key(&buf, "contamination", false);
	ae_json_float8(&buf, b->contamination);
	ae_json_training(&buf, b);
	ae_json_key(&buf, "history_epochs", false);
	appendStringInfo(&buf, "%d", b->n_history);
	ae_json_key(&buf, "columns", false);
	ae_json_columns(&buf, b->n_columns, b->columns);
	if (b->encoding_json)
	{
		ae_json_key(&buf, "encoding", false);
		appendStringInfoString(&buf, b->encoding_json);
	}
	appendStringInfoChar(&buf, '}');
	PG_RETURN_JSONB_P(ae_json_finish(&buf));
}
