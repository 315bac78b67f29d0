/*
 * ae_encoding.c — the column encoding of mixed-type models (ae_encoding.h):
 * column kinds, value conversion, the input layout, the JSON form and its
 * validation, and the encoding of one row.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "ae_encoding.h"
#include "ae_json.h"
#include "ae_strmap.h"
#include "ae_training.h"

/* ---------------------------------------------------------------- category index */

struct AeCategoryIndex
{
	aestr_hash *h;
};

/* The index of a vocabulary; NULL when a category is listed twice. */
static AeCategoryIndex *
BuildIndex(char **categories, int n)
{
	AeCategoryIndex *ix = palloc(sizeof(AeCategoryIndex));

	ix->h = aestr_create(CurrentMemoryContext, Max(n, 4), NULL);
	for (int i = 0; i < n; i++)
	{
		bool		found;
		AeStrEntry *e = aestr_insert(ix->h, categories[i], &found);

		if (found)
			return NULL;
		e->value = i;
	}
	return ix;
}

int
AeCategoryLookup(const AeColumnEncoding *col, const char *text)
{
	AeStrEntry *e = aestr_lookup(col->index->h, text);

	return e ? e->value : -1;
}

/* ---------------------------------------------------------------- kinds and values */

static const char *const KindNames[] = {"numeric", "categorical", "date", "timestamp", "timestamptz"};

const char *
AeColumnKindName(AeColumnKind kind)
{
	return KindNames[kind];
}

bool
AeColumnKindOf(Oid typid, AeColumnKind *kind)
{
	Oid			base = getBaseType(typid);

	switch (base)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
			*kind = AE_COL_NUMERIC;
			return true;
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
		case BOOLOID:
			*kind = AE_COL_CATEGORICAL;
			return true;
		case DATEOID:
			*kind = AE_COL_DATE;
			return true;
		case TIMESTAMPOID:
			*kind = AE_COL_TIMESTAMP;
			return true;
		case TIMESTAMPTZOID:
			*kind = AE_COL_TIMESTAMPTZ;
			return true;
		default:
			if (type_is_enum(base))
			{
				*kind = AE_COL_CATEGORICAL;
				return true;
			}
			return false;
	}
}

char *
AeCategoryText(Datum value, Oid typid)
{
	Oid			base = getBaseType(typid);

	switch (base)
	{
		case BOOLOID:
			return pstrdup(DatumGetBool(value) ? "true" : "false");
		case BPCHAROID:
			{
				/* char(n) compares without its trailing blanks, as its cast to text drops them */
				char	   *s = TextDatumGetCString(value);
				int			len = strlen(s);

				while (len > 0 && s[len - 1] == ' ')
					s[--len] = '\0';
				return s;
			}
		case TEXTOID:
		case VARCHAROID:
			return TextDatumGetCString(value);
		default:
			{
				Oid			out;
				bool		varlena;

				/* an enum: its label */
				getTypeOutputInfo(base, &out, &varlena);
				return OidOutputFunctionCall(out, value);
			}
	}
}

double
AeNumericValue(Datum value, Oid typid)
{
	switch (getBaseType(typid))
	{
		case INT2OID:
			return (double) DatumGetInt16(value);
		case INT4OID:
			return (double) DatumGetInt32(value);
		case INT8OID:
			return (double) DatumGetInt64(value);
		case FLOAT4OID:
			return (double) DatumGetFloat4(value);
		case FLOAT8OID:
			return DatumGetFloat8(value);
		default:
			return DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow, value));
	}
}

double
AeTimeValue(Datum value, Oid typid, const char *column)
{
	bool		infinite;
	double		t;

	if (getBaseType(typid) == DATEOID)
	{
		DateADT		v = DatumGetDateADT(value);

		infinite = DATE_NOT_FINITE(v);
		t = (double) v;
	}
	else
	{
		Timestamp	v = DatumGetTimestamp(value);

		infinite = TIMESTAMP_NOT_FINITE(v);
		t = (double) v / (double) USECS_PER_DAY;
	}
	if (infinite)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("column \"%s\" is infinite", column),
				 errdetail("A model learns from finite dates and times only.")));
	return t;
}

void
AeTimeFeatures(AeColumnKind kind, double t, double *f)
{
	double		day = floor(t);
	/* 2000-01-01, day 0, was a Saturday: day 0 of the week is Monday */
	double		dow = fmod(fmod(day + 5.0, 7.0) + 7.0, 7.0);
	int			k = 0;

	if (kind != AE_COL_DATE)
	{
		double		tod = t - day;

		f[k++] = sin(2.0 * M_PI * tod);
		f[k++] = cos(2.0 * M_PI * tod);
	}
	f[k++] = sin(2.0 * M_PI * dow / 7.0);
	f[k++] = cos(2.0 * M_PI * dow / 7.0);
	f[k++] = t;
}

/* ---------------------------------------------------------------- layout */

static int
FeatureCount(AeColumnKind kind)
{
	return kind == AE_COL_NUMERIC ? 1 : kind == AE_COL_DATE ? AE_DATE_FEATURES :
		kind == AE_COL_CATEGORICAL ? 0 : AE_TIMESTAMP_FEATURES;
}

void
AeEncodingLayout(AeEncoding *enc)
{
	int			next = 0;
	int			n_groups = 0;
	int			g = 0;

	/* the plain features first */
	for (int c = 0; c < enc->n_columns; c++)
	{
		AeColumnEncoding *col = &enc->cols[c];

		col->first = col->slot = next;
		col->n_feat = FeatureCount(col->kind);
		next += col->n_feat;
		col->group = -1;
		if (col->kind == AE_COL_CATEGORICAL || col->missing)
			n_groups++;
	}
	enc->groups.n_plain = next;
	enc->groups.n_groups = n_groups;
	enc->groups.groups = n_groups > 0 ? palloc(sizeof(AeGroup) * n_groups) : NULL;
	/* then the groups, in column order */
	for (int c = 0; c < enc->n_columns; c++)
	{
		AeColumnEncoding *col = &enc->cols[c];

		if (col->kind != AE_COL_CATEGORICAL && !col->missing)
			continue;
		col->group = g;
		col->group_first = next;
		col->group_width = col->kind == AE_COL_CATEGORICAL ?
			col->n_categories + 1 + (col->missing ? 1 : 0) : 2;
		col->group_slot = enc->groups.n_plain + g;
		enc->groups.groups[g].start = next;
		enc->groups.groups[g].width = col->group_width;
		next += col->group_width;
		g++;
	}
	enc->d = next;
	enc->groups.weights = palloc(sizeof(float) * Max(enc->groups.n_plain + n_groups, 1));
	for (int c = 0; c < enc->n_columns; c++)
	{
		AeColumnEncoding *col = &enc->cols[c];

		for (int k = 0; k < col->n_feat; k++)
			enc->groups.weights[col->slot + k] = (float) col->weight;
		if (col->group >= 0)
			enc->groups.weights[col->group_slot] = (float) col->weight;
	}
}

double
AeColumnSlotSum(const AeColumnEncoding *col, const float *slot_errors)
{
	double		sum = 0.0;

	for (int k = 0; k < col->n_feat; k++)
		sum += slot_errors[col->slot + k];
	if (col->group >= 0)
		sum += slot_errors[col->group_slot];
	return sum;
}

/* ---------------------------------------------------------------- JSON */

char *
AeEncodingToJson(const AeEncoding *enc)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"format\": %d, \"columns\": [", AE_ENCODING_FORMAT);
	for (int c = 0; c < enc->n_columns; c++)
	{
		const AeColumnEncoding *col = &enc->cols[c];

		if (c > 0)
			appendStringInfoString(&buf, ", ");
		appendStringInfoString(&buf, "{\"name\": ");
		escape_json(&buf, col->name);
		appendStringInfo(&buf, ", \"kind\": \"%s\", \"missing\": %s, \"weight\": ",
						 AeColumnKindName(col->kind), col->missing ? "true" : "false");
		ae_json_float8(&buf, col->weight);
		if (col->kind == AE_COL_CATEGORICAL)
		{
			appendStringInfoString(&buf, ", \"categories\": [");
			for (int i = 0; i < col->n_categories; i++)
			{
				if (i > 0)
					appendStringInfoString(&buf, ", ");
				escape_json(&buf, col->categories[i]);
			}
			appendStringInfoChar(&buf, ']');
		}
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfoString(&buf, "]}");
	return buf.data;
}

/* the problem in the message itself: it is the one thing a caller must read */
#define EncError(code, what, ...) \
	ereport(ERROR, (errcode(code), errmsg("%s: column encoding: %s", what, psprintf(__VA_ARGS__))))

static JsonbValue *
Member(JsonbContainer *obj, const char *key, JsonbValue *out)
{
	return getKeyJsonValueFromContainer(obj, key, strlen(key), out);
}

AeEncoding *
AeEncodingFromJsonb(JsonbContainer *obj, int sqlstate, const char *what)
{
	AeEncoding *enc = palloc0(sizeof(AeEncoding));
	JsonbValue	v;
	JsonbContainer *cols;
	int			n;

	if (!JsonContainerIsObject(obj))
		EncError(sqlstate, what, "the encoding must be a JSON object");
	if (!Member(obj, "format", &v) || v.type != jbvNumeric ||
		DatumGetInt32(DirectFunctionCall1(numeric_int4, NumericGetDatum(v.val.numeric))) != AE_ENCODING_FORMAT)
		EncError(sqlstate, what, "its \"format\" must be %d", AE_ENCODING_FORMAT);
	if (!Member(obj, "columns", &v) || v.type != jbvBinary || !JsonContainerIsArray(v.val.binary.data))
		EncError(sqlstate, what, "its \"columns\" must be an array");
	cols = v.val.binary.data;
	n = JsonContainerSize(cols);
	if (n < 1 || n > AE_MAX_WIDTH)
		EncError(sqlstate, what, "it must describe between 1 and %d columns, not %d", AE_MAX_WIDTH, n);
	enc->n_columns = n;
	enc->cols = palloc0(sizeof(AeColumnEncoding) * n);
	for (int c = 0; c < n; c++)
	{
		AeColumnEncoding *col = &enc->cols[c];
		JsonbValue *e = getIthJsonbValueFromContainer(cols, c);
		JsonbContainer *o;
		bool		kind_ok = false;

		if (e->type != jbvBinary || !JsonContainerIsObject(e->val.binary.data))
			EncError(sqlstate, what, "column %d must be an object", c + 1);
		o = e->val.binary.data;
		if (!Member(o, "name", &v) || v.type != jbvString || v.val.string.len == 0 ||
			v.val.string.len >= NAMEDATALEN || memchr(v.val.string.val, '\0', v.val.string.len))
			EncError(sqlstate, what, "column %d needs a \"name\": a non-empty string of at most %d bytes",
					 c + 1, NAMEDATALEN - 1);
		col->name = pnstrdup(v.val.string.val, v.val.string.len);
		for (int k = 0; k < c; k++)
			if (strcmp(enc->cols[k].name, col->name) == 0)
				EncError(sqlstate, what, "column \"%s\" is described twice", col->name);
		if (Member(o, "kind", &v) && v.type == jbvString)
			for (int k = 0; k < lengthof(KindNames); k++)
				if (strlen(KindNames[k]) == (size_t) v.val.string.len &&
					memcmp(KindNames[k], v.val.string.val, v.val.string.len) == 0)
				{
					col->kind = (AeColumnKind) k;
					kind_ok = true;
				}
		if (!kind_ok)
			EncError(sqlstate, what, "column \"%s\" needs a \"kind\": numeric, categorical, date, timestamp or timestamptz",
					 col->name);
		if (!Member(o, "missing", &v) || v.type != jbvBool)
			EncError(sqlstate, what, "column \"%s\" needs \"missing\": true or false", col->name);
		col->missing = v.val.boolean;
		col->weight = 1.0;
		if (Member(o, "weight", &v))
		{
			if (v.type != jbvNumeric)
				EncError(sqlstate, what, "the \"weight\" of column \"%s\" must be a number", col->name);
			col->weight = DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v.val.numeric)));
			if (!(isfinite(col->weight) && col->weight > 0.0 && col->weight <= 1e6))
				EncError(sqlstate, what, "the \"weight\" of column \"%s\" must be in (0, 1e6]", col->name);
		}
		if (col->kind == AE_COL_CATEGORICAL)
		{
			JsonbContainer *cats;
			int			k;

			if (!Member(o, "categories", &v) || v.type != jbvBinary || !JsonContainerIsArray(v.val.binary.data))
				EncError(sqlstate, what, "categorical column \"%s\" needs \"categories\": an array of strings",
						 col->name);
			cats = v.val.binary.data;
			k = JsonContainerSize(cats);
			if (k + 1 + (col->missing ? 1 : 0) < 2 || k > AE_MAX_WIDTH)
				EncError(sqlstate, what, "column \"%s\" has %d categories; it needs between %d and %d",
						 col->name, k, col->missing ? 0 : 1, AE_MAX_WIDTH);
			col->n_categories = k;
			col->categories = palloc(sizeof(char *) * Max(k, 1));
			for (int i = 0; i < k; i++)
			{
				JsonbValue *s = getIthJsonbValueFromContainer(cats, i);

				if (s->type != jbvString || memchr(s->val.string.val, '\0', s->val.string.len))
					EncError(sqlstate, what, "category %d of column \"%s\" must be a string", i + 1, col->name);
				col->categories[i] = pnstrdup(s->val.string.val, s->val.string.len);
			}
			col->index = BuildIndex(col->categories, k);
			if (col->index == NULL)
				EncError(sqlstate, what, "column \"%s\" lists a category twice", col->name);
		}
		else if (Member(o, "categories", &v))
			EncError(sqlstate, what, "column \"%s\" is %s and cannot have categories",
					 col->name, AeColumnKindName(col->kind));
	}
	AeEncodingLayout(enc);
	if (enc->d > AE_MAX_WIDTH)
		EncError(sqlstate, what, "the columns need %d inputs, more than the maximum %d", enc->d, AE_MAX_WIDTH);
	return enc;
}

AeEncoding *
AeEncodingFromText(const char *json, int sqlstate, const char *what)
{
	Jsonb	   *jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));

	return AeEncodingFromJsonb(&jb->root, sqlstate, what);
}

void
AeEncodingCheckModel(const AeEncoding *enc, const AeBundle *b, int sqlstate, const char *what)
{
	const AeGroups *g = &b->groups;
	const char *name = b->columns;

	if (enc->d != b->arch.n_inputs)
		EncError(sqlstate, what, "the columns need %d inputs; the network has %d", enc->d, b->arch.n_inputs);
	if (enc->n_columns != b->n_columns)
		EncError(sqlstate, what, "it describes %d columns; the model names %d", enc->n_columns, b->n_columns);
	for (int c = 0; c < enc->n_columns; c++)
	{
		if (name == NULL || strcmp(name, enc->cols[c].name) != 0)
			EncError(sqlstate, what, "column %d is \"%s\" in the encoding but not in the model",
					 c + 1, enc->cols[c].name);
		name += strlen(name) + 1;
	}
	if (g->n_groups != enc->groups.n_groups || g->n_plain != enc->groups.n_plain)
		EncError(sqlstate, what, "its groups do not match the network's");
	for (int i = 0; i < g->n_groups; i++)
		if (g->groups[i].start != enc->groups.groups[i].start ||
			g->groups[i].width != enc->groups.groups[i].width)
			EncError(sqlstate, what, "group %d does not match the network's", i + 1);
	for (int s = 0; s < ae_groups_slots(g); s++)
		if (g->weights[s] != enc->groups.weights[s])
			EncError(sqlstate, what, "the weight of slot %d does not match the network's", s + 1);
}

/* ---------------------------------------------------------------- one row */

bool
AeEncodeRow(const AeEncoding *enc, const Datum *values, const bool *nulls,
			const Oid *types, const float *mean, float *x, int *unknown, AeRowCheck *check)
{
	check->problem = AE_ROW_OK;

	memset(x + enc->groups.n_plain, 0, sizeof(float) * (enc->d - enc->groups.n_plain));
	for (int c = 0; c < enc->n_columns; c++)
	{
		const AeColumnEncoding *col = &enc->cols[c];
		float	   *xc = x + col->first;

		if (col->kind == AE_COL_CATEGORICAL)
		{
			int			pos;

			if (nulls[c])
			{
				if (col->missing)
					pos = col->n_categories + 1;
				else
				{
					/* no NULL was seen in training: like any unseen category */
					pos = col->n_categories;
					(*unknown)++;
				}
			}
			else
			{
				char	   *text = AeCategoryText(values[c], types[c]);

				pos = AeCategoryLookup(col, text);
				if (pos < 0)
				{
					pos = col->n_categories;	/* "other" */
					(*unknown)++;
				}
				pfree(text);
			}
			x[col->group_first + pos] = 1.0f;
			continue;
		}
		/* a numeric or date column: its features, and its missing indicator (value, NULL) */
		if (col->missing)
			x[col->group_first + (nulls[c] ? 1 : 0)] = 1.0f;
		if (nulls[c])
		{
			for (int k = 0; k < col->n_feat; k++)
				xc[k] = mean[col->first + k];
			if (!col->missing && check->problem == AE_ROW_OK)
			{
				check->problem = AE_ROW_NULL;
				check->index = c + 1;
			}
			continue;
		}
		if (col->kind == AE_COL_NUMERIC)
		{
			double		v = AeNumericValue(values[c], types[c]);

			if (!AeCheckValue(check, c + 1, v))
				return false;
			xc[0] = (float) v;
		}
		else
		{
			double		f[AE_TIMESTAMP_FEATURES];

			AeTimeFeatures(col->kind, AeTimeValue(values[c], types[c], col->name), f);
			for (int k = 0; k < col->n_feat; k++)
				xc[k] = (float) f[k];
		}
	}
	return check->problem == AE_ROW_OK;
}
