/*
 * ae_options.c — the training options: one table drives the defaults, the
 * named arguments of ae_train(), the jsonb keys of ae_fit, the range checks
 * and the JSON text stored with the model.
 *
 * Every option may be NULL (SQL NULL or JSON null), which means "use the
 * default".  The default values come from ae_defaults.h, which the core's
 * own defaults use too; the table below only says which default each
 * option takes.  Choice options take their names from the core's tables
 * (ae_names.h), so a value is matched there by one rule: ASCII case is
 * ignored, and the model stores the canonical lower-case name.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"

#include "ae_defaults.h"
#include "ae_names.h"
#include "ae_nn.h"
#include "ae_norm.h"
#include "ae_optim.h"
#include "ae_json.h"
#include "ae_training.h"

typedef enum AeOptionKind
{
	AE_KIND_INT,				/* int, range [min, max] */
	AE_KIND_INT8,				/* int64, range [min, max] */
	AE_KIND_REAL,				/* double, range per min/max/open flags */
	AE_KIND_BOOL,
	AE_KIND_CHOICE,				/* int holding a value of choices[] */
	AE_KIND_WIDTHS,				/* hidden: int[] of layer widths */
	AE_KIND_WEIGHTS				/* column_weights: a JSON object of numbers > 0, kept as text */
} AeOptionKind;

typedef struct AeOptionDef
{
	const char *name;
	AeOptionKind kind;
	size_t		offset;			/* of the value in AeTrainOptions */
	double		dflt;			/* the default (a sentinel where it is resolved later) */
	double		min;
	double		max;			/* INFINITY: no upper bound */
	bool		min_open;		/* min itself is not allowed */
	bool		max_open;
	const AeName *choices;		/* AE_KIND_CHOICE: the core's name table */
	unsigned	allowed;		/* AE_KIND_CHOICE: bit v set when value v is allowed; 0: all */
	bool		nullable_default;	/* the default is shown as null in the JSON (max_rows, code_layer) */
} AeOptionDef;

#define OFF(field) offsetof(AeTrainOptions, field)
#define INT_OPT(n, f, d, lo, hi) {n, AE_KIND_INT, OFF(f), d, lo, hi, false, false, NULL, 0, false}
#define REAL_OPT(n, f, d, lo, hi, lo_open, hi_open) {n, AE_KIND_REAL, OFF(f), d, lo, hi, lo_open, hi_open, NULL, 0, false}
#define BOOL_OPT(n, f, d) {n, AE_KIND_BOOL, OFF(f), d, 0, 0, false, false, NULL, 0, false}
#define CHOICE_OPT(n, f, d, c, allowed) {n, AE_KIND_CHOICE, OFF(f), d, 0, 0, false, false, c, allowed, false}

/*
 * In AeOptionId order, which is also ae_train()'s argument order.
 * Resolved later by AeTrainerResolve: hidden (from the input width),
 * code_layer -1 (the narrowest layer), learning_rate 0 and weight_decay -1
 * (the optimizer's defaults), and with loss bce the output activation and
 * the normalisation.
 */
const AeName ae_data_mode_names[] = {
	{"auto", AE_DATA_AUTO},
	{"memory", AE_DATA_MEMORY},
	{"stream", AE_DATA_STREAM},
	{NULL, 0}
};

const AeName ae_nulls_mode_names[] = {
	{"learn", AE_NULLS_LEARN},
	{"error", AE_NULLS_ERROR},
	{NULL, 0}
};

static const AeOptionDef Options[AE_N_OPTIONS] = {
	[AE_OPTION_HIDDEN] = {"hidden", AE_KIND_WIDTHS, OFF(n_hidden), 0, 1, AE_MAX_WIDTH, false, false, NULL, 0, false},
	[AE_OPTION_ACTIVATION] = CHOICE_OPT("activation", activation, AE_DEFAULT_ACTIVATION, ae_activation_names, 0),
	[AE_OPTION_OUTPUT_ACTIVATION] = CHOICE_OPT("output_activation", output_activation, AE_DEFAULT_OUTPUT_ACTIVATION,
											   ae_activation_names, (1u << AE_ACT_LINEAR) | (1u << AE_ACT_SIGMOID)),
	[AE_OPTION_CODE_LAYER] = {"code_layer", AE_KIND_INT, OFF(code_layer), -1, 0, AE_MAX_HIDDEN - 1, false, false, NULL, 0, true},
	[AE_OPTION_TIED_WEIGHTS] = BOOL_OPT("tied_weights", tied_weights, false),
	[AE_OPTION_LOSS] = CHOICE_OPT("loss", loss, AE_DEFAULT_LOSS, ae_loss_names, 0),
	[AE_OPTION_OPTIMIZER] = CHOICE_OPT("optimizer", optimizer, AE_DEFAULT_OPTIMIZER, ae_optimizer_names, 0),
	[AE_OPTION_LEARNING_RATE] = REAL_OPT("learning_rate", learning_rate, 0, 0, 10, true, false),
	[AE_OPTION_MOMENTUM] = REAL_OPT("momentum", momentum, AE_DEFAULT_MOMENTUM, 0, 1, false, true),
	[AE_OPTION_NESTEROV] = BOOL_OPT("nesterov", nesterov, false),
	[AE_OPTION_WEIGHT_DECAY] = REAL_OPT("weight_decay", weight_decay, -1, 0, INFINITY, false, false),
	[AE_OPTION_CLIP_NORM] = REAL_OPT("clip_norm", clip_norm, 0, 0, INFINITY, false, false),
	[AE_OPTION_LR_DECAY] = REAL_OPT("lr_decay", lr_decay, AE_DEFAULT_LR_DECAY, 0, 1, true, false),
	[AE_OPTION_BATCH_SIZE] = INT_OPT("batch_size", batch_size, AE_DEFAULT_BATCH_SIZE, 1, AE_MAX_BATCH_SIZE),
	[AE_OPTION_EPOCHS] = INT_OPT("epochs", epochs, AE_DEFAULT_EPOCHS, 1, AE_MAX_EPOCHS),
	[AE_OPTION_SHUFFLE] = BOOL_OPT("shuffle", shuffle, AE_DEFAULT_SHUFFLE),
	[AE_OPTION_NORMALIZE] = CHOICE_OPT("normalize", normalize, AE_DEFAULT_NORMALIZE, ae_norm_names, 0),
	[AE_OPTION_NOISE] = CHOICE_OPT("noise", noise, AE_DEFAULT_NOISE, ae_noise_names, 0),
	[AE_OPTION_NOISE_LEVEL] = REAL_OPT("noise_level", noise_level, AE_DEFAULT_NOISE_LEVEL, 0, 1, true, true),
	[AE_OPTION_L1_ACTIVITY] = REAL_OPT("l1_activity", l1_activity, 0, 0, INFINITY, false, false),
	[AE_OPTION_SPARSITY_TARGET] = REAL_OPT("sparsity_target", sparsity_target, AE_DEFAULT_SPARSITY_TARGET, 0, 1, true, true),
	[AE_OPTION_SPARSITY_WEIGHT] = REAL_OPT("sparsity_weight", sparsity_weight, 0, 0, INFINITY, false, false),
	[AE_OPTION_CONTRACTIVE] = REAL_OPT("contractive", contractive, 0, 0, INFINITY, false, false),
	[AE_OPTION_CONTRACTIVE_SAMPLES] = INT_OPT("contractive_samples", contractive_samples, 0, 0, AE_MAX_CONTRACTIVE_SAMPLES),
	[AE_OPTION_VALIDATION_FRACTION] = REAL_OPT("validation_fraction", validation_fraction, AE_DEFAULT_VALIDATION_FRACTION, 0, 0.9, false, false),
	[AE_OPTION_PATIENCE] = INT_OPT("patience", patience, AE_DEFAULT_PATIENCE, 0, AE_MAX_PATIENCE),
	[AE_OPTION_CONTAMINATION] = REAL_OPT("contamination", contamination, AE_DEFAULT_CONTAMINATION, 0, 0.5, true, false),
	[AE_OPTION_SEED] = {"seed", AE_KIND_INT8, OFF(seed), AE_DEFAULT_SEED, (double) PG_INT64_MIN, (double) PG_INT64_MAX, false, false, NULL, 0, false},
	[AE_OPTION_MAX_ROWS] = {"max_rows", AE_KIND_INT8, OFF(max_rows), 0, 1, (double) PG_INT64_MAX, false, false, NULL, 0, true},
	[AE_OPTION_SKIP_INVALID] = BOOL_OPT("skip_invalid", skip_invalid, false),
	[AE_OPTION_WARM_START] = BOOL_OPT("warm_start", warm_start, false),
	[AE_OPTION_VERBOSE] = BOOL_OPT("verbose", verbose, false),
	[AE_OPTION_DATA] = CHOICE_OPT("data", data, AE_DATA_AUTO, ae_data_mode_names, 0),
	[AE_OPTION_SHUFFLE_BUFFER] = {"shuffle_buffer", AE_KIND_INT8, OFF(shuffle_buffer), 0, 1, AE_MAX_SHUFFLE_BUFFER, false, false, NULL, 0, true},
	[AE_OPTION_MAX_CATEGORIES] = INT_OPT("max_categories", max_categories, AE_DEFAULT_MAX_CATEGORIES, 1, AE_MAX_CATEGORIES),
	[AE_OPTION_NULLS] = CHOICE_OPT("nulls", nulls, AE_NULLS_LEARN, ae_nulls_mode_names, 0),
	[AE_OPTION_COLUMN_WEIGHTS] = {"column_weights", AE_KIND_WEIGHTS, OFF(column_weights), 0, 0, 0, false, false, NULL, 0, true},
};

void
AeOptionsDefaults(AeTrainOptions *opts)
{
	memset(opts, 0, sizeof(*opts));
	for (int i = 0; i < AE_N_OPTIONS; i++)
	{
		const AeOptionDef *def = &Options[i];
		char	   *field = (char *) opts + def->offset;

		switch (def->kind)
		{
			case AE_KIND_INT:
			case AE_KIND_CHOICE:
				*(int *) field = (int) def->dflt;
				break;
			case AE_KIND_INT8:
				*(int64 *) field = (int64) def->dflt;
				break;
			case AE_KIND_REAL:
				*(double *) field = def->dflt;
				break;
			case AE_KIND_BOOL:
				*(bool *) field = def->dflt != 0;
				break;
			case AE_KIND_WIDTHS:
				*(int *) field = 0; /* derived from the input width */
				break;
			case AE_KIND_WEIGHTS:
				*(char **) field = NULL;
				break;
		}
	}
}

const char *
AeOptionName(AeOptionId id)
{
	return Options[id].name;
}

/* ---------------------------------------------------------------- checks */

static char *
FormatReal(double v)
{
	return float8out_internal(v);
}

/* "between 1 and 100" / "greater than 0 and at most 0.5" / "at least 0" */
static char *
RangeText(const AeOptionDef *def)
{
	StringInfoData s;

	initStringInfo(&s);
	if (def->kind == AE_KIND_INT8 && def->min <= (double) PG_INT64_MIN)
		appendStringInfo(&s, "an integer between " INT64_FORMAT " and " INT64_FORMAT,
						 PG_INT64_MIN, PG_INT64_MAX);
	else if (def->kind != AE_KIND_REAL && def->max >= (double) PG_INT64_MAX)
		appendStringInfo(&s, "an integer of at least %s", FormatReal(def->min));
	else if (def->kind != AE_KIND_REAL)
		appendStringInfo(&s, "an integer between %s and %s",
						 FormatReal(def->min), FormatReal(def->max));
	else
	{
		appendStringInfo(&s, "%s %s", def->min_open ? "greater than" : "at least",
						 FormatReal(def->min));
		if (!isinf(def->max))
			appendStringInfo(&s, " and %s %s", def->max_open ? "less than" : "at most",
							 FormatReal(def->max));
	}
	return s.data;
}

static void
RangeError(const AeOptionDef *def, double v)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("option \"%s\" must be %s, got %s",
					def->name, RangeText(def), FormatReal(v))));
}

/*
 * The core takes reals as float: a finite double beyond float's range
 * (an unbounded option such as weight_decay = 1e300) is rejected here with
 * the type's limit, rather than becoming infinity in the conversion.
 */
static void
CheckReal(const AeOptionDef *def, double v)
{
	bool		ok = isfinite(v);

	if (ok)
		ok = def->min_open ? v > def->min : v >= def->min;
	if (ok && !isinf(def->max))
		ok = def->max_open ? v < def->max : v <= def->max;
	if (!ok)
		RangeError(def, v);
	if (fabs(v) > FLT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("option \"%s\" is out of range for type real, got %s",
						def->name, FormatReal(v)),
				 errdetail("The largest value allowed is %s.", FormatReal(FLT_MAX))));
}

static void
CheckInteger(const AeOptionDef *def, double v)
{
	/* a bigint's upper bound is not a double: compare with 2^63 instead */
	bool		too_big = def->kind == AE_KIND_INT8 ? v >= 9223372036854775808.0 : v > def->max;

	if (!isfinite(v) || v != floor(v) || v < def->min || too_big)
		RangeError(def, v);
}

static bool
ChoiceAllowed(const AeOptionDef *def, int value)
{
	return def->allowed == 0 || (value >= 0 && value < 32 && (def->allowed & (1u << value)) != 0);
}

/* The allowed names, comma-separated, in the table's order. */
static char *
ChoiceList(const AeOptionDef *def)
{
	StringInfoData s;

	initStringInfo(&s);
	for (const AeName *c = def->choices; c->name; c++)
		if (ChoiceAllowed(def, c->value))
			appendStringInfo(&s, "%s%s", s.len ? ", " : "", c->name);
	return s.data;
}

/* By the rule of ae_names.h: ASCII case ignored. */
static int
ParseChoice(const AeOptionDef *def, const char *name)
{
	int			value;

	if (!ae_name_parse(def->choices, name, &value) || !ChoiceAllowed(def, value))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", def->name, name),
				 errdetail("Valid values are %s.", ChoiceList(def))));
	return value;
}

static const char *
ChoiceName(const AeOptionDef *def, int value)
{
	const char *name = ae_name_of(def->choices, value);

	if (name == NULL)
		elog(ERROR, "option \"%s\" holds unknown value %d. Please report a bug.", def->name, value);
	return name;
}

static void
SetWidths(const AeOptionDef *def, AeTrainOptions *opts, const int *widths, int n)
{
	if (n < 1 || n > AE_MAX_HIDDEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"hidden\" must list between 1 and %d layer widths, got %d",
						AE_MAX_HIDDEN, n)));
	for (int i = 0; i < n; i++)
		if (widths[i] < 1 || widths[i] > AE_MAX_WIDTH)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"hidden\": layer widths must be between 1 and %d, got %d",
							AE_MAX_WIDTH, widths[i])));
	opts->n_hidden = n;
	memcpy(opts->hidden, widths, sizeof(int) * n);
}

static void JsonWrongType(const AeOptionDef *def, const JsonbValue *v, const char *expected);

/*
 * column_weights: a JSON object whose every value is a number > 0 (at most
 * 1e6); kept as its text, matched against the columns when training starts.
 */
static char *
WeightsText(const AeOptionDef *def, JsonbContainer *obj)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	if (!JsonContainerIsObject(obj))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be a JSON object of column names and weights", def->name)));
	it = JsonbIteratorInit(obj);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		double		w;

		if (tok != WJB_VALUE)
			continue;
		if (v.type != jbvNumeric)
			JsonWrongType(def, &v, "an object of numbers");
		w = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow, NumericGetDatum(v.val.numeric)));
		if (!(isfinite(w) && w > 0.0 && w <= 1e6))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"%s\": weights must be greater than 0 and at most 1e6, got %s",
							def->name, FormatReal(w))));
	}
	return JsonbToCString(NULL, obj, -1);
}

/* ---------------------------------------------------------------- named arguments */

static void
SetFromDatum(const AeOptionDef *def, AeTrainOptions *opts, Datum value)
{
	char	   *field = (char *) opts + def->offset;

	switch (def->kind)
	{
		case AE_KIND_INT:
			CheckInteger(def, (double) DatumGetInt32(value));
			*(int *) field = DatumGetInt32(value);
			break;
		case AE_KIND_INT8:
			if (DatumGetInt64(value) < (int64) def->min)
				CheckInteger(def, (double) DatumGetInt64(value));
			*(int64 *) field = DatumGetInt64(value);
			break;
		case AE_KIND_REAL:
			CheckReal(def, DatumGetFloat8(value));
			*(double *) field = DatumGetFloat8(value);
			break;
		case AE_KIND_BOOL:
			*(bool *) field = DatumGetBool(value);
			break;
		case AE_KIND_CHOICE:
			*(int *) field = ParseChoice(def, TextDatumGetCString(value));
			break;
		case AE_KIND_WIDTHS:
			{
				ArrayType  *arr = DatumGetArrayTypeP(value);
				int			n = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));

				if (ARR_NDIM(arr) > 1)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("option \"hidden\" must be a one-dimensional array")));
				if (array_contains_nulls(arr))
					ereport(ERROR,
							(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
							 errmsg("option \"hidden\" must not contain NULL")));
				SetWidths(def, opts, n > 0 ? (int *) ARR_DATA_PTR(arr) : NULL, n);
			}
			break;
		case AE_KIND_WEIGHTS:
			*(char **) field = WeightsText(def, &DatumGetJsonbP(value)->root);
			break;
	}
}

void
AeOptionsFromArgs(AeTrainOptions *opts, FunctionCallInfo fcinfo, int first_arg)
{
	/*
	 * Options added later come last, so a declaration of an older version
	 * (before ALTER EXTENSION UPDATE) still works: what it lacks keeps its
	 * default.  0.1.0 ended with verbose.
	 */
	int			n = PG_NARGS() - first_arg;

	AeOptionsDefaults(opts);
	if (n < AE_OPTION_VERBOSE + 1 || n > AE_N_OPTIONS)
		elog(ERROR, "ae_train() was declared with %d arguments, the library expects %d. Please report a bug.",
			 PG_NARGS(), first_arg + AE_N_OPTIONS);
	for (int i = 0; i < n; i++)
	{
		if (PG_ARGISNULL(first_arg + i))
			continue;
		SetFromDatum(&Options[i], opts, PG_GETARG_DATUM(first_arg + i));
		opts->set[i] = true;
	}
}

/* ---------------------------------------------------------------- jsonb */

static void
JsonWrongType(const AeOptionDef *def, const JsonbValue *v, const char *expected)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("option \"%s\" must be %s, not %s", def->name, expected, ae_json_type_name(v))));
}

static double
JsonNumber(const AeOptionDef *def, const JsonbValue *v)
{
	if (v->type != jbvNumeric)
		JsonWrongType(def, v, "a number");
	/*
	 * A JSON number may lie beyond double precision (1e400): it becomes
	 * ±Infinity (or 0 when tiny), which the option's range check reports.
	 */
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
											  NumericGetDatum(v->val.numeric)));
}

static inline Datum
NumericFromInt64(int64 v)
{
	return NumericGetDatum(int64_to_numeric(v));
}

/*
 * An integer option from a JSON number, range-checked on the exact value
 * before any conversion: a double cannot tell 2^63 - 1 from 2^63, and a
 * number outside the option's range (or the C type's) must never reach a
 * cast.  The message shows the number as a double, like the other checks.
 */
static int64
JsonInteger(const AeOptionDef *def, const JsonbValue *v)
{
	double		num = JsonNumber(def, v);
	Datum		n = NumericGetDatum(v->val.numeric);
	int64		lo = def->min <= (double) PG_INT64_MIN ? PG_INT64_MIN : (int64) def->min;
	int64		hi = def->max >= (double) PG_INT64_MAX ? PG_INT64_MAX : (int64) def->max;
	bool		ok;

	ok = DatumGetBool(DirectFunctionCall2(numeric_ge, n, NumericFromInt64(lo))) &&
		DatumGetBool(DirectFunctionCall2(numeric_le, n, NumericFromInt64(hi)));
	/* integral: equal to itself truncated to 0 decimals */
	if (ok)
		ok = DatumGetBool(DirectFunctionCall2(numeric_eq, n,
											  DirectFunctionCall2(numeric_trunc, n, Int32GetDatum(0))));
	if (!ok)
		RangeError(def, num);
	return DatumGetInt64(DirectFunctionCall1(numeric_int8, n));
}

static void
SetWidthsFromJson(const AeOptionDef *def, AeTrainOptions *opts, const JsonbValue *v)
{
	JsonbIterator *it;
	JsonbValue	elem;
	JsonbIteratorToken tok;
	int			widths[AE_MAX_HIDDEN + 1];
	int			n = 0;

	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data) ||
		JsonContainerIsScalar(v->val.binary.data))
		JsonWrongType(def, v, "an array of integers");

	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
	{
		double		w;

		if (tok != WJB_ELEM)
			continue;
		if (elem.type != jbvNumeric)
			JsonWrongType(def, &elem, "an array of integers");
		w = JsonNumber(def, &elem);
		if (w != floor(w) || w < 1 || w > AE_MAX_WIDTH)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"hidden\": layer widths must be between 1 and %d, got %s",
							AE_MAX_WIDTH, FormatReal(w))));
		if (n <= AE_MAX_HIDDEN)
			widths[n] = (int) w;
		n++;
	}
	SetWidths(def, opts, widths, n);
}

static void
SetFromJson(const AeOptionDef *def, AeTrainOptions *opts, const JsonbValue *v)
{
	char	   *field = (char *) opts + def->offset;
	double		num;

	switch (def->kind)
	{
		case AE_KIND_INT:
			*(int *) field = (int) JsonInteger(def, v);
			break;
		case AE_KIND_INT8:
			*(int64 *) field = JsonInteger(def, v);
			break;
		case AE_KIND_REAL:
			num = JsonNumber(def, v);
			CheckReal(def, num);
			*(double *) field = num;
			break;
		case AE_KIND_BOOL:
			if (v->type != jbvBool)
				JsonWrongType(def, v, "a boolean");
			*(bool *) field = v->val.boolean;
			break;
		case AE_KIND_CHOICE:
			if (v->type != jbvString)
				JsonWrongType(def, v, "a string");
			*(int *) field = ParseChoice(def, pnstrdup(v->val.string.val, v->val.string.len));
			break;
		case AE_KIND_WIDTHS:
			SetWidthsFromJson(def, opts, v);
			break;
		case AE_KIND_WEIGHTS:
			if (v->type != jbvBinary)
				JsonWrongType(def, v, "an object");
			*(char **) field = WeightsText(def, v->val.binary.data);
			break;
	}
}

static char *
OptionList(void)
{
	StringInfoData s;

	initStringInfo(&s);
	for (int i = 0; i < AE_N_OPTIONS; i++)
		if (i != AE_OPTION_WARM_START && i != AE_OPTION_DATA && i != AE_OPTION_SHUFFLE_BUFFER)
			appendStringInfo(&s, "%s%s", s.len ? ", " : "", Options[i].name);
	return s.data;
}

static void
FromJsonb(AeTrainOptions *opts, Jsonb *json, bool warm_ok)
{
	JsonbIterator *it;
	JsonbValue	key;
	JsonbValue	val;
	JsonbIteratorToken tok;

	AeOptionsDefaults(opts);
	if (json == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(json))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options must be a JSON object, not %s",
						JB_ROOT_IS_SCALAR(json) ? "a scalar" : "an array")));

	it = JsonbIteratorInit(&json->root);
	while ((tok = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
	{
		char	   *name;
		int			id = -1;

		if (tok != WJB_KEY)
			continue;
		name = pnstrdup(key.val.string.val, key.val.string.len);
		tok = JsonbIteratorNext(&it, &val, true);
		Assert(tok == WJB_VALUE);

		for (int i = 0; i < AE_N_OPTIONS; i++)
			if (strcmp(Options[i].name, name) == 0)
				id = i;
		if (id == AE_OPTION_WARM_START && !warm_ok)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"warm_start\" is not available in ae_fit"),
					 errhint("Use ae_train(), which names the stored model to continue from.")));
		if (id == AE_OPTION_DATA || id == AE_OPTION_SHUFFLE_BUFFER)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"%s\" is not available in ae_fit", name),
					 errdetail("An aggregate is handed its rows once; only ae_train() can read a relation several times.")));
		if (id < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown option \"%s\"", name),
					 errdetail("Valid options are %s.", OptionList())));
		if (opts->set[id])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"%s\" is given twice", name)));
		if (val.type == jbvNull)
			continue;
		SetFromJson(&Options[id], opts, &val);
		opts->set[id] = true;
	}
}

void
AeOptionsFromJsonb(AeTrainOptions *opts, Jsonb *json)
{
	FromJsonb(opts, json, false);
}

void
AeOptionsFromJsonbNamed(AeTrainOptions *opts, Jsonb *json)
{
	FromJsonb(opts, json, true);
}

/* ---------------------------------------------------------------- JSON text */

char *
AeOptionsToJson(const AeTrainOptions *opts)
{
	StringInfoData s;

	initStringInfo(&s);
	appendStringInfoChar(&s, '{');
	for (int i = 0; i < AE_N_OPTIONS; i++)
	{
		const AeOptionDef *def = &Options[i];
		const char *field = (const char *) opts + def->offset;

		if (i > 0)
			appendStringInfoString(&s, ", ");
		escape_json(&s, def->name);
		appendStringInfoString(&s, ": ");
		switch (def->kind)
		{
			case AE_KIND_INT:
				if (def->nullable_default && *(const int *) field < 0)
					appendStringInfoString(&s, "null");
				else
					appendStringInfo(&s, "%d", *(const int *) field);
				break;
			case AE_KIND_INT8:
				if (def->nullable_default && *(const int64 *) field <= 0)
					appendStringInfoString(&s, "null");
				else
					appendStringInfo(&s, INT64_FORMAT, *(const int64 *) field);
				break;
			case AE_KIND_REAL:
				appendStringInfoString(&s, FormatReal(*(const double *) field));
				break;
			case AE_KIND_BOOL:
				appendStringInfoString(&s, *(const bool *) field ? "true" : "false");
				break;
			case AE_KIND_CHOICE:
				escape_json(&s, ChoiceName(def, *(const int *) field));
				break;
			case AE_KIND_WIDTHS:
				appendStringInfoChar(&s, '[');
				for (int j = 0; j < opts->n_hidden; j++)
					appendStringInfo(&s, "%s%d", j ? ", " : "", opts->hidden[j]);
				appendStringInfoChar(&s, ']');
				break;
			case AE_KIND_WEIGHTS:
				appendStringInfoString(&s, *(char *const *) field ? *(char *const *) field : "null");
				break;
		}
	}
	appendStringInfoChar(&s, '}');
	return s.data;
}
