/*
 * ae_import.c — a model from a JSON document (format "autoenc",
 * format_version 1, described in doc/how-it-works.md), stored in the
 * catalog.
 *
 * The document may come from ae_export, from PyTorch (nn.Linear weights are
 * out×in, as here) or be written by hand, so everything is checked before
 * the model is built: structure and JSON types (22P02 when malformed),
 * values, shapes and names (22023), the size (54000).  Every message names
 * the offending element by its path, e.g. "layers[1].weight[3] has 5
 * values; expected 4".  Paths are 0-based, like jsonpath.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "ae_catalog.h"
#include "ae_compat.h"
#include "ae_encoding.h"
#include "ae_names.h"
#include "ae_json.h"
#include "autoenc.h"

/* Largest model ae_import builds: 64M parameters (256 MB of float4). */
#define AE_IMPORT_MAX_PARAMS	(64 * 1024 * 1024)

/* ---------------------------------------------------------------- errors */

pg_noreturn static void DocError(int sqlstate, const char *fmt,...) pg_attribute_printf(2, 3);

static void
DocError(int sqlstate, const char *fmt,...)
{
	StringInfoData msg;

	initStringInfo(&msg);
	for (;;)
	{
		va_list		args;
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&msg, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&msg, needed);
	}
	ereport(ERROR,
			(errcode(sqlstate),
			 errmsg("invalid model document: %s", msg.data)));
	pg_unreachable();
}

#define MALFORMED	ERRCODE_INVALID_TEXT_REPRESENTATION /* 22P02 */
#define INVALID		ERRCODE_INVALID_PARAMETER_VALUE /* 22023 */

/* ---------------------------------------------------------------- values */

/* Key of an object; false when absent or null (the "optional" cases). */
static bool
Lookup(JsonbContainer *obj, const char *key, JsonbValue *out)
{
	if (getKeyJsonValueFromContainer(obj, key, strlen(key), out) == NULL)
		return false;
	return out->type != jbvNull;
}

static void
Require(JsonbContainer *obj, const char *key, JsonbValue *out, const char *path)
{
	if (!Lookup(obj, key, out))
		DocError(MALFORMED, "%s is missing", path);
}

static JsonbContainer *
ObjectValue(const JsonbValue *v, const char *path)
{
	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		DocError(MALFORMED, "%s must be an object, not %s", path, ae_json_type_name(v));
	return v->val.binary.data;
}

static JsonbContainer *
ArrayValue(const JsonbValue *v, const char *path)
{
	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		DocError(MALFORMED, "%s must be an array, not %s", path, ae_json_type_name(v));
	return v->val.binary.data;
}

static char *
StringValue(const JsonbValue *v, const char *path)
{
	if (v->type != jbvString)
		DocError(MALFORMED, "%s must be a string, not %s", path, ae_json_type_name(v));
	return pnstrdup(v->val.string.val, v->val.string.len);
}

static bool
BoolValue(const JsonbValue *v, const char *path)
{
	if (v->type != jbvBool)
		DocError(MALFORMED, "%s must be a boolean, not %s", path, ae_json_type_name(v));
	return v->val.boolean;
}

/* The decimal text of a JSON number, or NULL for another type. */
static char *
NumberText(const JsonbValue *v)
{
	if (v->type != jbvNumeric)
		return NULL;
	return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
}

static double
Float8Value(const JsonbValue *v, const char *path)
{
	char	   *text = NumberText(v);
	double		d;

	if (text == NULL)
		DocError(MALFORMED, "%s must be a number, not %s", path, ae_json_type_name(v));
	d = strtod(text, NULL);
	if (!isfinite(d))
		DocError(INVALID, "%s is out of range for a double precision number", path);
	pfree(text);
	return d;
}

/* Integral and within [lo, hi]. */
static int64
IntValue(const JsonbValue *v, const char *path, int64 lo, int64 hi)
{
	char	   *text = NumberText(v);
	double		d;

	if (text == NULL)
		DocError(MALFORMED, "%s must be a number, not %s", path, ae_json_type_name(v));
	d = strtod(text, NULL);
	if (!(d >= (double) lo && d <= (double) hi) || d != floor(d))
		DocError(INVALID, "%s is %s; it must be an integer between " INT64_FORMAT " and " INT64_FORMAT,
				 path, text, lo, hi);
	return (int64) d;
}

/*
 * One float4 element.  strtof on the decimal text rounds once, so every
 * number ae_export wrote comes back as the same float.  The path is built
 * only when something is wrong: i, j are indexes (-1: none).
 */
static float
ElementFloat4(const JsonbValue *v, const char *path, int i, int j)
{
	char	   *text = NumberText(v);
	float		f;

	if (text != NULL)
	{
		f = strtof(text, NULL);
		if (isfinite(f))
		{
			/* one string per weight: freed at once, or a large model needs GBs */
			pfree(text);
			return f;
		}
	}
	{
		char	   *where = j >= 0 ? psprintf("%s[%d][%d]", path, i, j) : psprintf("%s[%d]", path, i);

		if (text == NULL)
			DocError(MALFORMED, "%s must be a number, not %s", where, ae_json_type_name(v));
		DocError(INVALID, "%s is out of range for a 4-byte float", where);
	}
}

static int
ArraySize(JsonbContainer *arr)
{
	return (int) JsonContainerSize(arr);
}

/* An array of exactly n numbers into out[n] (float4). */
static void
ReadFloat4Array(JsonbContainer *arr, float *out, int n, const char *path, int row)
{
	JsonbIterator *it = JsonbIteratorInit(arr);
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			i = 0;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (i >= n)				/* the caller checked the size */
			elog(ERROR, "array %s grew while read", path);
		out[i] = row >= 0 ? ElementFloat4(&v, path, row, i) : ElementFloat4(&v, path, i, -1);
		i++;
	}
}

/* An optional float4 vector of n_inputs values; false when absent. */
static bool
ReadVector(JsonbContainer *obj, const char *key, const char *path, float *out, int n)
{
	JsonbValue	v;
	JsonbContainer *arr;

	if (!Lookup(obj, key, &v))
		return false;
	arr = ArrayValue(&v, path);
	if (ArraySize(arr) != n)
		DocError(INVALID, "%s has %d values; expected n_inputs = %d", path, ArraySize(arr), n);
	ReadFloat4Array(arr, out, n, path, -1);
	return true;
}

/* An optional number; NaN ("not known") when absent or null. */
static double
OptionalFloat8(JsonbContainer *obj, const char *key)
{
	JsonbValue	v;

	if (!Lookup(obj, key, &v))
		return NAN;
	return Float8Value(&v, key);
}

/* ---------------------------------------------------------------- layers */

typedef struct LayerDoc
{
	JsonbContainer *obj;
	AeActivation act;
	JsonbContainer *bias;
	int			out;
} LayerDoc;

static char *
LayerPath(int l, const char *member)
{
	return psprintf("layers[%d].%s", l, member);
}

/* Shapes and activations of every layer, read before any weight. */
static int
ReadLayerShapes(JsonbContainer *root, int n_inputs, LayerDoc *layers)
{
	JsonbValue	v;
	JsonbContainer *arr;
	int			L;

	Require(root, "layers", &v, "layers");
	arr = ArrayValue(&v, "layers");
	L = ArraySize(arr);
	if (L < 2 || L > AE_MAX_HIDDEN + 1)
		DocError(INVALID, "layers has %d %s; a model has between 2 and %d layers",
				 L, L == 1 ? "entry" : "entries", AE_MAX_HIDDEN + 1);
	for (int l = 0; l < L; l++)
	{
		JsonbValue *lv = getIthJsonbValueFromContainer(arr, l);
		JsonbValue	member;
		char	   *act;

		layers[l].obj = ObjectValue(lv, psprintf("layers[%d]", l));
		Require(layers[l].obj, "activation", &member, LayerPath(l, "activation"));
		act = StringValue(&member, LayerPath(l, "activation"));
		if (!ae_activation_parse(act, &layers[l].act))
		{
			char		names[256];

			DocError(INVALID, "layers[%d].activation \"%s\" is unknown; expected %s",
					 l, act, ae_name_list(ae_activation_names, names, sizeof(names)));
		}
		Require(layers[l].obj, "bias", &member, LayerPath(l, "bias"));
		layers[l].bias = ArrayValue(&member, LayerPath(l, "bias"));
		layers[l].out = ArraySize(layers[l].bias);
		if (layers[l].out < 1 || layers[l].out > AE_MAX_WIDTH)
			DocError(INVALID, "layers[%d].bias has %d values; a layer has between 1 and %d outputs",
					 l, layers[l].out, AE_MAX_WIDTH);
	}
	if (layers[L - 1].out != n_inputs)
		DocError(INVALID, "layers[%d] has %d outputs; the last layer must have n_inputs = %d",
				 L - 1, layers[L - 1].out, n_inputs);
	return L;
}

static void
ReadArch(JsonbContainer *root, int n_inputs, const LayerDoc *layers, int L, AeArch *arch)
{
	int			hidden[AE_MAX_HIDDEN];
	bool		tied = false;
	JsonbValue	v;
	char		errbuf[AE_ERRBUF_SIZE];

	if (Lookup(root, "tied", &v))
		tied = BoolValue(&v, "tied");
	for (int i = 0; i < L - 1; i++)
		hidden[i] = layers[i].out;
	/* code_layer defaults to the narrowest hidden layer, as when training */
	ae_arch_make(arch, n_inputs, L - 1, hidden, AE_ACT_LINEAR, layers[L - 1].act, tied);
	for (int i = 0; i < L - 1; i++)
		arch->hidden_act[i] = layers[i].act;
	if (Lookup(root, "code_layer", &v))
		arch->code_layer = (int) IntValue(&v, "code_layer", 0, L - 2);
	if (ae_arch_validate(arch, errbuf) != AE_OK)
		DocError(INVALID, "%s", errbuf);
}

/*
 * Every weight matrix present with the shape its layer needs (out rows of in
 * values), checked before the parameters are allocated: the allocation is
 * then bounded by what the document holds, not by what its biases claim (a
 * small document with wide biases and no weights would otherwise reserve
 * hundreds of megabytes before being refused).  In a tied model a decoder
 * layer may leave its weight out (ReadWeights checks which may).
 */
static void
CheckWeightShapes(const LayerDoc *layers, int L, int n_inputs, bool tied)
{
	for (int l = 0; l < L; l++)
	{
		int			out = layers[l].out;
		int			in = l == 0 ? n_inputs : layers[l - 1].out;
		char	   *path = LayerPath(l, "weight");
		JsonbValue	v;
		JsonbContainer *rows;

		if (!Lookup(layers[l].obj, "weight", &v))
		{
			if (tied && l >= L / 2)
				continue;
			DocError(MALFORMED, "%s is missing", path);
		}
		rows = ArrayValue(&v, path);
		if (ArraySize(rows) != out)
			DocError(INVALID, "%s has %d rows; expected %d (the length of layers[%d].bias)",
					 path, ArraySize(rows), out, l);
		for (int i = 0; i < out; i++)
		{
			JsonbValue *rv = getIthJsonbValueFromContainer(rows, i);
			JsonbContainer *r = ArrayValue(rv, psprintf("%s[%d]", path, i));

			if (ArraySize(r) != in)
				DocError(INVALID, "%s[%d] has %d values; expected %d", path, i, ArraySize(r), in);
		}
		CHECK_FOR_INTERRUPTS();
	}
}

/* Weight rows of layer l into dst (out×in), or check them against the tied twin. */
static void
ReadWeights(const LayerDoc *layer, int l, const AeModel *m)
{
	int			out = m->dims[l + 1];
	int			in = m->dims[l];
	char	   *path = LayerPath(l, "weight");
	JsonbValue	v;
	JsonbContainer *rows;
	JsonbIterator *it;
	JsonbIteratorToken tok;
	float	   *row = palloc(in * sizeof(float));
	int			i = 0;

	if (!Lookup(layer->obj, "weight", &v))
	{
		if (m->W_tied[l])
			return;				/* the transpose of its twin, implied */
		DocError(MALFORMED, "%s is missing", path);
	}
	rows = ArrayValue(&v, path);
	if (ArraySize(rows) != out)
		DocError(INVALID, "%s has %d rows; expected %d (the length of layers[%d].bias)",
				 path, ArraySize(rows), out, l);
	it = JsonbIteratorInit(rows);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		JsonbContainer *r;

		if (tok != WJB_ELEM)
			continue;
		r = ArrayValue(&v, psprintf("%s[%d]", path, i));
		if (ArraySize(r) != in)
			DocError(INVALID, "%s[%d] has %d values; expected %d", path, i, ArraySize(r), in);
		ReadFloat4Array(r, row, in, path, i);
		if (m->W_tied[l])
		{
			/* W[l] is the twin's in×out matrix: element [i][j] is W[l][j·out + i] */
			int			twin = m->n_layers - 1 - l;

			for (int j = 0; j < in; j++)
				if (row[j] != m->W[l][(size_t) j * out + i])
					DocError(INVALID, "%s[%d][%d] is %g, but a tied layer is the transpose of layers[%d].weight, which has %g at [%d][%d]",
							 path, i, j, row[j], twin, m->W[l][(size_t) j * out + i], j, i);
		}
		else
			memcpy(m->W[l] + (size_t) i * in, row, in * sizeof(float));
		i++;
		CHECK_FOR_INTERRUPTS();
	}
	pfree(row);
}

/* ---------------------------------------------------------------- the rest */

static void
ReadNormalization(JsonbContainer *root, AeBundle *b)
{
	int			d = b->arch.n_inputs;
	JsonbValue	v;
	JsonbContainer *norm = NULL;
	bool		has_offset = false,
				has_scale = false;

	b->norm_method = AE_NORM_NONE;
	b->norm_offset = palloc(d * sizeof(float));
	b->norm_scale = palloc(d * sizeof(float));
	for (int j = 0; j < d; j++)
	{
		b->norm_offset[j] = 0.0f;
		b->norm_scale[j] = 1.0f;
	}
	if (Lookup(root, "normalization", &v))
	{
		norm = ObjectValue(&v, "normalization");
		if (Lookup(norm, "method", &v))
		{
			char	   *method = StringValue(&v, "normalization.method");

			if (!ae_norm_parse(method, &b->norm_method))
			{
				char		names[128];

				DocError(INVALID, "normalization.method \"%s\" is unknown; expected %s",
						 method, ae_name_list(ae_norm_names, names, sizeof(names)));
			}
		}
		has_offset = ReadVector(norm, "offset", "normalization.offset", b->norm_offset, d);
		has_scale = ReadVector(norm, "scale", "normalization.scale", b->norm_scale, d);
	}
	if (b->norm_method != AE_NORM_NONE && !(has_offset && has_scale))
		DocError(MALFORMED, "normalization.%s is missing; method %s needs offset and scale",
				 has_offset ? "scale" : "offset", ae_norm_name(b->norm_method));
	for (int j = 0; j < d; j++)
		if (b->norm_scale[j] == 0.0f)
			DocError(INVALID, "normalization.scale[%d] is 0; a scale must be nonzero", j);

	/* the imputation value: the training mean, or else the offset */
	b->feature_mean = palloc(d * sizeof(float));
	if (!ReadVector(root, "feature_mean", "feature_mean", b->feature_mean, d))
		memcpy(b->feature_mean, b->norm_offset, d * sizeof(float));
}

static void
ReadThreshold(JsonbContainer *root, AeBundle *b)
{
	JsonbValue	v;

	b->threshold = OptionalFloat8(root, "threshold");
	if (b->threshold < 0)
		DocError(INVALID, "threshold is %g; it must not be negative", b->threshold);
	b->contamination = OptionalFloat8(root, "contamination");
	if (b->contamination < 0 || b->contamination > 1)
		DocError(INVALID, "contamination is %g; it must be between 0 and 1", b->contamination);
	for (int i = 0; i < AE_BUNDLE_N_QUANTILES; i++)
		b->quantiles[i] = NAN;
	if (Lookup(root, "quantiles", &v))
	{
		JsonbContainer *arr = ArrayValue(&v, "quantiles");
		JsonbIterator *it;
		JsonbIteratorToken tok;
		int			i = 0;

		if (ArraySize(arr) != AE_BUNDLE_N_QUANTILES)
			DocError(INVALID, "quantiles has %d values; expected %d (0%%, 1%%, ..., 100%%)",
					 ArraySize(arr), AE_BUNDLE_N_QUANTILES);
		it = JsonbIteratorInit(arr);
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (tok != WJB_ELEM)
				continue;
			b->quantiles[i] = Float8Value(&v, psprintf("quantiles[%d]", i));
			if (i > 0 && b->quantiles[i] < b->quantiles[i - 1])
				DocError(INVALID, "quantiles[%d] is smaller than quantiles[%d]; quantiles must not decrease",
						 i, i - 1);
			i++;
		}
	}
}

static void
ReadTraining(JsonbContainer *root, AeBundle *b)
{
	JsonbValue	v;

	b->n_rows = Lookup(root, "rows", &v) ? IntValue(&v, "rows", 0, INT64CONST(1) << 53) : 0;
	b->epochs_run = Lookup(root, "epochs", &v) ? (int) IntValue(&v, "epochs", 0, PG_INT32_MAX) : 0;
	b->train_loss = OptionalFloat8(root, "train_loss");
	b->val_loss = OptionalFloat8(root, "val_loss");
	if (Lookup(root, "history", &v))
	{
		JsonbContainer *arr = ArrayValue(&v, "history");
		int			n = ArraySize(arr);

		b->n_history = n;
		b->history = palloc0(Max(n, 1) * sizeof(AeEpochStats));
		for (int i = 0; i < n; i++)
		{
			JsonbContainer *e = ObjectValue(getIthJsonbValueFromContainer(arr, i),
											psprintf("history[%d]", i));
			AeEpochStats *h = &b->history[i];

			Require(e, "epoch", &v, psprintf("history[%d].epoch", i));
			h->epoch = (int) IntValue(&v, psprintf("history[%d].epoch", i), 1, PG_INT32_MAX);
			Require(e, "train_loss", &v, psprintf("history[%d].train_loss", i));
			h->train_loss = Float8Value(&v, psprintf("history[%d].train_loss", i));
			h->val_loss = Lookup(e, "val_loss", &v) ? Float8Value(&v, psprintf("history[%d].val_loss", i)) : NAN;
			h->seconds = Lookup(e, "seconds", &v) ? Float8Value(&v, psprintf("history[%d].seconds", i)) : 0.0;
			if (h->seconds < 0)
				DocError(INVALID, "history[%d].seconds is %g; it must not be negative", i, h->seconds);
		}
	}
}

static int
CompareNames(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/*
 * Column names pick a row's attributes by name when it is scored, so each
 * may appear once (as ae_train requires of its columns).  Sorted, a repeat
 * sits next to its twin: n log n even for the widest models.
 */
static void
CheckDistinctColumns(const AeBundle *b)
{
	const char **sorted = palloc(sizeof(char *) * b->n_columns);
	const char *p = b->columns;

	for (int i = 0; i < b->n_columns; i++)
	{
		sorted[i] = p;
		p += strlen(p) + 1;
	}
	qsort(sorted, b->n_columns, sizeof(char *), CompareNames);
	for (int i = 1; i < b->n_columns; i++)
		if (strcmp(sorted[i - 1], sorted[i]) == 0)
			DocError(ERRCODE_DUPLICATE_COLUMN, "the name \"%s\" appears more than once in columns", sorted[i]);
	pfree(sorted);
}

static void
ReadConfigAndColumns(JsonbContainer *root, AeBundle *b, int n_columns)
{
	JsonbValue	v;

	if (Lookup(root, "config", &v))
		b->config_json = JsonbToCString(NULL, ObjectValue(&v, "config"), v.val.binary.len);
	if (Lookup(root, "columns", &v))
	{
		JsonbContainer *arr = ArrayValue(&v, "columns");
		StringInfoData names;
		JsonbIterator *it;
		JsonbIteratorToken tok;
		int			i = 0;

		if (ArraySize(arr) != n_columns)
			DocError(INVALID, "columns has %d names; expected %s = %d", ArraySize(arr),
					 n_columns == b->arch.n_inputs ? "n_inputs" : "the encoding's columns", n_columns);
		initStringInfo(&names);
		it = JsonbIteratorInit(arr);
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			char	   *name;

			if (tok != WJB_ELEM)
				continue;
			name = StringValue(&v, psprintf("columns[%d]", i));
			if (name[0] == '\0')
				DocError(INVALID, "columns[%d] is empty", i);
			appendBinaryStringInfo(&names, name, strlen(name) + 1);
			i++;
		}
		b->n_columns = i;
		b->columns = names.data;
		b->columns_len = names.len;
		CheckDistinctColumns(b);
	}
}

/*
 * format_version 2: the column encoding of a mixed-type model, parsed and
 * checked like any input (ae_encoding.c) against the network read so far;
 * the groups and slot weights follow from it.  Group inputs must not be
 * normalised.  Sets n_columns for the column list to come.
 */
static void
ReadEncoding(JsonbContainer *root, AeBundle *b)
{
	JsonbValue	v;
	AeEncoding *enc;

	Require(root, "encoding", &v, "encoding");
	enc = AeEncodingFromJsonb(ObjectValue(&v, "encoding"), INVALID, "invalid model document");
	if (enc->d != b->arch.n_inputs)
		DocError(INVALID, "the encoding's columns need %d inputs; n_inputs is %d", enc->d, b->arch.n_inputs);
	for (int c = 0; c < enc->n_columns; c++)
	{
		const AeColumnEncoding *col = &enc->cols[c];

		for (int j = col->group_first; col->group >= 0 && j < col->group_first + col->group_width; j++)
			if (b->norm_offset[j] != 0.0f || b->norm_scale[j] != 1.0f)
				DocError(INVALID, "normalization of input %d must be offset 0 and scale 1: it is a one-hot input of column \"%s\"",
						 j + 1, col->name);
	}
	b->groups = enc->groups;
	b->encoding_json = AeEncodingToJson(enc);
	b->n_columns = enc->n_columns;
}

/* The whole document into *b; returns doc->>'name' or NULL. */
static char *
ParseDocument(Jsonb *doc, AeBundle *b)
{
	JsonbContainer *root = &doc->root;
	JsonbValue	v;
	LayerDoc	layers[AE_MAX_HIDDEN + 1];
	int			L;
	int			n_inputs;
	int64		version;
	size_t		n_params;
	AeModel		m;
	char		errbuf[AE_ERRBUF_SIZE];
	char	   *name = NULL;

	if (!JB_ROOT_IS_OBJECT(doc))
		DocError(MALFORMED, "the document must be a JSON object");

	if (!Lookup(root, "format", &v))
		ereport(ERROR,
				(errcode(MALFORMED),
				 errmsg("invalid model document: format is missing"),
				 errhint("A model document starts with \"format\": \"autoenc\", \"format_version\": 1.")));
	if (v.type != jbvString || strcmp(StringValue(&v, "format"), "autoenc") != 0)
		DocError(INVALID, "format must be \"autoenc\"");
	Require(root, "format_version", &v, "format_version");
	version = IntValue(&v, "format_version", 0, PG_INT32_MAX);
	if (version != 1 && version != 2)
		DocError(INVALID, "format_version " INT64_FORMAT " is not supported; this version of autoenc reads format_version 1 and 2",
				 version);
	if (Lookup(root, "name", &v))
		name = StringValue(&v, "name");

	Require(root, "n_inputs", &v, "n_inputs");
	n_inputs = (int) IntValue(&v, "n_inputs", 1, AE_MAX_WIDTH);

	memset(b, 0, sizeof(*b));
	L = ReadLayerShapes(root, n_inputs, layers);
	ReadArch(root, n_inputs, layers, L, &b->arch);

	/* the size is known, and held by the document, before anything large is allocated */
	n_params = ae_arch_param_count(&b->arch);
	if (n_params > AE_IMPORT_MAX_PARAMS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("invalid model document: the model has %zu parameters; ae_import accepts at most %d",
						n_params, AE_IMPORT_MAX_PARAMS)));
	CheckWeightShapes(layers, L, n_inputs, b->arch.tied);
	b->params = palloc(n_params * sizeof(float));
	if (ae_model_bind(&m, &b->arch, b->params, errbuf) != AE_OK)
		DocError(INVALID, "%s", errbuf);
	for (int l = 0; l < L; l++)
	{
		ReadWeights(&layers[l], l, &m);
		ReadFloat4Array(layers[l].bias, m.b[l], m.dims[l + 1], LayerPath(l, "bias"), -1);
	}

	ReadNormalization(root, b);
	ReadThreshold(root, b);
	ReadTraining(root, b);
	if (version >= 2)
		ReadEncoding(root, b);
	else if (Lookup(root, "encoding", &v))
		DocError(INVALID, "encoding needs format_version 2");
	ReadConfigAndColumns(root, b, b->encoding_json ? b->n_columns : b->arch.n_inputs);
	if (b->encoding_json && b->columns == NULL)
		DocError(MALFORMED, "columns is missing; a model with an encoding needs its column names");
	if (b->encoding_json)
		AeEncodingCheckModel(AeEncodingFromText(b->encoding_json, INVALID, "invalid model document"),
							 b, INVALID, "invalid model document");
	return name;
}

PG_FUNCTION_INFO_V1(ae_import);
Datum
ae_import(PG_FUNCTION_ARGS)
{
	Jsonb	   *doc;
	AeBundle	bundle;
	char	   *doc_name;
	char	   *name;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	doc = PG_GETARG_JSONB_P(0);
	doc_name = ParseDocument(doc, &bundle);
	if (!PG_ARGISNULL(1))
		name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	else if (doc_name != NULL)
		name = doc_name;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the imported model needs a name"),
				 errhint("Pass a name to ae_import() or set \"name\" in the document.")));
	PG_RETURN_INT32(ae_catalog_store(name, &bundle, InvalidOid));
}
