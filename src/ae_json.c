/*
 * ae_json.c — JSON text helpers shared by ae_model_info and ae_export.
 */
#include "postgres.h"

#include <math.h>

#include "common/shortest_dec.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"

#include "ae_json.h"

void
ae_json_float4(StringInfo buf, float v)
{
	char		text[FLOAT_SHORTEST_DECIMAL_LEN];

	if (!isfinite(v))
	{
		appendStringInfoString(buf, "null");
		return;
	}
	float_to_shortest_decimal_buf(v, text);
	appendStringInfoString(buf, text);
}

void
ae_json_float8(StringInfo buf, double v)
{
	char		text[DOUBLE_SHORTEST_DECIMAL_LEN];

	if (!isfinite(v))
	{
		appendStringInfoString(buf, "null");
		return;
	}
	double_to_shortest_decimal_buf(v, text);
	appendStringInfoString(buf, text);
}

void
ae_json_float4_array(StringInfo buf, const float *v, size_t n)
{
	appendStringInfoChar(buf, '[');
	for (size_t i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoString(buf, ", ");
		ae_json_float4(buf, v[i]);
		if ((i & 0xFFFF) == 0xFFFF)
			CHECK_FOR_INTERRUPTS();
	}
	appendStringInfoChar(buf, ']');
}

void
ae_json_float8_array(StringInfo buf, const double *v, size_t n)
{
	appendStringInfoChar(buf, '[');
	for (size_t i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoString(buf, ", ");
		ae_json_float8(buf, v[i]);
	}
	appendStringInfoChar(buf, ']');
}

void
ae_json_key(StringInfo buf, const char *key, bool first)
{
	if (!first)
		appendStringInfoString(buf, ", ");
	escape_json(buf, key);
	appendStringInfoString(buf, ": ");
}

Jsonb *
ae_json_finish(StringInfo buf)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf->data)));
}

/* How a JSON value is named in error messages: "a string", "an array", … */
const char *
ae_json_type_name(const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "a string";
		case jbvNumeric:
			return "a number";
		case jbvBool:
			return "a boolean";
		case jbvBinary:
			return JsonContainerIsArray(v->val.binary.data) ? "an array" : "an object";
		default:
			return "a value";
	}
}

/* A model's input column names as a JSON array, or null for array-input models. */
void
ae_json_columns(StringInfo buf, int n_columns, const char *columns)
{
	const char *p = columns;

	if (n_columns <= 0)
	{
		appendStringInfoString(buf, "null");
		return;
	}
	appendStringInfoChar(buf, '[');
	for (int i = 0; i < n_columns; i++)
	{
		if (i > 0)
			appendStringInfoString(buf, ", ");
		escape_json(buf, p);
		p += strlen(p) + 1;
	}
	appendStringInfoChar(buf, ']');
}

void
ae_json_training(StringInfo buf, const AeBundle *b)
{
	ae_json_key(buf, "rows", false);
	appendStringInfo(buf, INT64_FORMAT, b->n_rows);
	ae_json_key(buf, "epochs", false);
	appendStringInfo(buf, "%d", b->epochs_run);
	ae_json_key(buf, "train_loss", false);
	ae_json_float8(buf, b->train_loss);
	ae_json_key(buf, "val_loss", false);
	ae_json_float8(buf, b->val_loss);
}
