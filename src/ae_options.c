/*
 * ae_options.c — the training options: one table drives the defaults, the
 * named arguments of ae_train(), the jsonb keys of ae_fit, the range checks
 * and the JSON text stored with the model.
 *
 * Every option may be NULL (SQL NULL or JSON null), which means "use the
 * default"; the defaults live here only.
 */
#include "postgres.h"

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
	AE_KIND_CHOICE,				/* int holding one of choices[].value */
	AE_KIND_WIDTHS				/* hidden: int[] of layer widths */
} AeOptionKind;

typedef struct AeChoice
{
	const char *name;
	int			value;
} AeChoice;

typedef struct AeOptionDef
{
	const char *name;
	AeOptionKind kind;
	size_t		offset;			/* of the value in AeTrainOptions */
	double		min;
	double		max;			/* INFINITY: no upper bound */
	bool		min_open;		/* min itself is not allowed */
	bool		max_open;
	const AeChoice *choices;	/* AE_KIND_CHOICE, terminated by a NULL name */
	bool		nullable_default;	/* NULL is shown as null in the JSON (max_rows, code_layer) */
} AeOptionDef;

static const AeChoice Activations[] = {
	{"linear", AE_ACT_LINEAR}, {"sigmoid", AE_ACT_SIGMOID}, {"tanh", AE_ACT_TANH},
	{"relu", AE_ACT_RELU}, {"leaky_relu", AE_ACT_LEAKY_RELU}, {"elu", AE_ACT_ELU},
	{NULL, 0}
};
static const AeChoice OutputActivations[] = {
	{"linear", AE_ACT_LINEAR}, {"sigmoid", AE_ACT_SIGMOID}, {NULL, 0}
};
static const AeChoice Losses[] = {
	{"mse", AE_LOSS_MSE}, {"bce", AE_LOSS_BCE}, {NULL, 0}
};
static const AeChoice Optimizers[] = {
	{"sgd", AE_OPT_SGD}, {"momentum", AE_OPT_MOMENTUM}, {"adam", AE_OPT_ADAM},
	{"adamw", AE_OPT_ADAMW}, {NULL, 0}
};
static const AeChoice Normalizations[] = {
	{"none", AE_NORM_NONE}, {"zscore", AE_NORM_ZSCORE}, {"minmax", AE_NORM_MINMAX}, {NULL, 0}
};
static const AeChoice Noises[] = {
	{"none", AE_NOISE_NONE}, {"gaussian", AE_NOISE_GAUSSIAN}, {"mask", AE_NOISE_MASK}, {NULL, 0}
};

#define OFF(field) offsetof(AeTrainOptions, field)
#define INT_OPT(n, f, lo, hi) {n, AE_KIND_INT, OFF(f), lo, hi, false, false, NULL, false}
#define REAL_OPT(n, f, lo, hi, lo_open, hi_open) {n, AE_KIND_REAL, OFF(f), lo, hi, lo_open, hi_open, NULL, false}
#define BOOL_OPT(n, f) {n, AE_KIND_BOOL, OFF(f), 0, 0, false, false, NULL, false}
#define CHOICE_OPT(n, f, c) {n, AE_KIND_CHOICE, OFF(f), 0, 0, false, false, c, false}

/* In AeOptionId order, which is also ae_train()'s argument order. */
static const AeOptionDef Options[AE_N_OPTIONS] = {
	[AE_OPTION_HIDDEN] = {"hidden", AE_KIND_WIDTHS, OFF(n_hidden), 1, AE_MAX_WIDTH, false, false, NULL, false},
	[AE_OPTION_ACTIVATION] = CHOICE_OPT("activation", activation, Activations),
	[AE_OPTION_OUTPUT_ACTIVATION] = CHOICE_OPT("output_activation", output_activation, OutputActivations),
	[AE_OPTION_CODE_LAYER] = {"code_layer", AE_KIND_INT, OFF(code_layer), 0, AE_MAX_HIDDEN - 1, false, false, NULL, true},
	[AE_OPTION_TIED_WEIGHTS] = BOOL_OPT("tied_weights", tied_weights),
	[AE_OPTION_LOSS] = CHOICE_OPT("loss", loss, Losses),
	[AE_OPTION_OPTIMIZER] = CHOICE_OPT("optimizer", optimizer, Optimizers),
	[AE_OPTION_LEARNING_RATE] = REAL_OPT("learning_rate", learning_rate, 0, 10, true, false),
	[AE_OPTION_MOMENTUM] = REAL_OPT("momentum", momentum, 0, 1, false, true),
	[AE_OPTION_NESTEROV] = BOOL_OPT("nesterov", nesterov),
	[AE_OPTION_WEIGHT_DECAY] = REAL_OPT("weight_decay", weight_decay, 0, INFINITY, false, false),
	[AE_OPTION_CLIP_NORM] = REAL_OPT("clip_norm", clip_norm, 0, INFINITY, false, false),
	[AE_OPTION_LR_DECAY] = REAL_OPT("lr_decay", lr_decay, 0, 1, true, false),
	[AE_OPTION_BATCH_SIZE] = INT_OPT("batch_size", batch_size, 1, 65536),
	[AE_OPTION_EPOCHS] = INT_OPT("epochs", epochs, 1, 100000),
	[AE_OPTION_SHUFFLE] = BOOL_OPT("shuffle", shuffle),
	[AE_OPTION_NORMALIZE] = CHOICE_OPT("normalize", normalize, Normalizations),
	[AE_OPTION_NOISE] = CHOICE_OPT("noise", noise, Noises),
	[AE_OPTION_NOISE_LEVEL] = REAL_OPT("noise_level", noise_level, 0, 1, true, true),
	[AE_OPTION_L1_ACTIVITY] = REAL_OPT("l1_activity", l1_activity, 0, INFINITY, false, false),
	[AE_OPTION_SPARSITY_TARGET] = REAL_OPT("sparsity_target", sparsity_target, 0, 1, true, true),
	[AE_OPTION_SPARSITY_WEIGHT] = REAL_OPT("sparsity_weight", sparsity_weight, 0, INFINITY, false, false),
	[AE_OPTION_CONTRACTIVE] = REAL_OPT("contractive", contractive, 0, INFINITY, false, false),
	[AE_OPTION_CONTRACTIVE_SAMPLES] = INT_OPT("contractive_samples", contractive_samples, 0, 65536),
	[AE_OPTION_VALIDATION_FRACTION] = REAL_OPT("validation_fraction", validation_fraction, 0, 0.9, false, false),
	[AE_OPTION_PATIENCE] = INT_OPT("patience", patience, 0, 100000),
	[AE_OPTION_CONTAMINATION] = REAL_OPT("contamination", contamination, 0, 0.5, true, false),
	[AE_OPTION_SEED] = {"seed", AE_KIND_INT8, OFF(seed), (double) PG_INT64_MIN, (double) PG_INT64_MAX, false, false, NULL, false},
	[AE_OPTION_MAX_ROWS] = {"max_rows", AE_KIND_INT8, OFF(max_rows), 1, (double) PG_INT64_MAX, false, false, NULL, true},
	[AE_OPTION_SKIP_INVALID] = BOOL_OPT("skip_invalid", skip_invalid),
	[AE_OPTION_WARM_START] = BOOL_OPT("warm_start", warm_start),
	[AE_OPTION_VERBOSE] = BOOL_OPT("verbose", verbose),
};

void
AeOptionsDefaults(AeTrainOptions *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->n_hidden = 0;			/* derived from the input width */
	opts->activation = AE_ACT_RELU;
	opts->output_activation = AE_ACT_LINEAR;	/* sigmoid for loss bce */
	opts->code_layer = -1;		/* the narrowest hidden layer */
	opts->tied_weights = false;
	opts->loss = AE_LOSS_MSE;
	opts->optimizer = AE_OPT_ADAM;
	opts->learning_rate = 0;	/* the optimizer's default */
	opts->momentum = 0.9;
	opts->nesterov = false;
	opts->weight_decay = -1;	/* the optimizer's default */
	opts->clip_norm = 0;
	opts->lr_decay = 1;
	opts->batch_size = 32;
	opts->epochs = 50;
	opts->shuffle = true;
	opts->normalize = AE_NORM_ZSCORE;	/* minmax for loss bce */
	opts->noise = AE_NOISE_NONE;
	opts->noise_level = 0.1;
	opts->l1_activity = 0;
	opts->sparsity_target = 0.05;
	opts->sparsity_weight = 0;
	opts->contractive = 0;
	opts->contractive_samples = 0;	/* exact */
	opts->validation_fraction = 0.1;
	opts->patience = 10;
	opts->contamination = 0.05;
	opts->seed = 42;
	opts->max_rows = 0;
	opts->skip_invalid = false;
	opts->warm_start = false;
	opts->verbose = false;
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
CheckReal(const AeOptionDef *def, double v)
{
	bool		ok = isfinite(v);

	if (ok)
		ok = def->min_open ? v > def->min : v >= def->min;
	if (ok && !isinf(def->max))
		ok = def->max_open ? v < def->max : v <= def->max;
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be %s, got %s",
						def->name, RangeText(def), FormatReal(v))));
}

static void
CheckInteger(const AeOptionDef *def, double v)
{
	/* a bigint's upper bound is not a double: compare with 2^63 instead */
	bool		too_big = def->kind == AE_KIND_INT8 ? v >= 9223372036854775808.0 : v > def->max;

	if (!isfinite(v) || v != floor(v) || v < def->min || too_big)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be %s, got %s",
						def->name, RangeText(def), FormatReal(v))));
}

static char *
ChoiceList(const AeChoice *choices)
{
	StringInfoData s;

	initStringInfo(&s);
	for (const AeChoice *c = choices; c->name; c++)
		appendStringInfo(&s, "%s%s", c == choices ? "" : ", ", c->name);
	return s.data;
}

static int
ParseChoice(const AeOptionDef *def, const char *name)
{
	for (const AeChoice *c = def->choices; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c->value;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for option \"%s\": \"%s\"", def->name, name),
			 errdetail("Valid values are %s.", ChoiceList(def->choices))));
	return 0;					/* keep compiler quiet */
}

static const char *
ChoiceName(const AeOptionDef *def, int value)
{
	for (const AeChoice *c = def->choices; c->name; c++)
		if (c->value == value)
			return c->name;
	elog(ERROR, "option \"%s\" holds unknown value %d. Please report a bug.", def->name, value);
	return NULL;
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
	}
}

void
AeOptionsFromArgs(AeTrainOptions *opts, FunctionCallInfo fcinfo, int first_arg)
{
	AeOptionsDefaults(opts);
	if (PG_NARGS() != first_arg + AE_N_OPTIONS)
		elog(ERROR, "ae_train() was declared with %d arguments, the library expects %d. Please report a bug.",
			 PG_NARGS(), first_arg + AE_N_OPTIONS);
	for (int i = 0; i < AE_N_OPTIONS; i++)
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
			num = JsonNumber(def, v);
			/* 2^63 as a double may stand for 2^63 - 1, which is a bigint */
			if (!(num == 9223372036854775808.0 &&
				  DatumGetBool(DirectFunctionCall2(numeric_le, NumericGetDatum(v->val.numeric),
												   NumericGetDatum(int64_to_numeric(PG_INT64_MAX))))))
				CheckInteger(def, num);
			*(int *) field = (int) num;
			break;
		case AE_KIND_INT8:
			num = JsonNumber(def, v);
			/* 2^63 as a double may stand for 2^63 - 1, which is a bigint */
			if (!(num == 9223372036854775808.0 &&
				  DatumGetBool(DirectFunctionCall2(numeric_le, NumericGetDatum(v->val.numeric),
												   NumericGetDatum(int64_to_numeric(PG_INT64_MAX))))))
				CheckInteger(def, num);
			/* exact conversion: a double cannot hold every bigint */
			*(int64 *) field = DatumGetInt64(DirectFunctionCall1(numeric_int8,
																 NumericGetDatum(v->val.numeric)));
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
	}
}

static char *
OptionList(void)
{
	StringInfoData s;

	initStringInfo(&s);
	for (int i = 0; i < AE_N_OPTIONS; i++)
		if (i != AE_OPTION_WARM_START)
			appendStringInfo(&s, "%s%s", s.len ? ", " : "", Options[i].name);
	return s.data;
}

void
AeOptionsFromJsonb(AeTrainOptions *opts, Jsonb *json)
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
				 errmsg("ae_fit options must be a JSON object")));

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
		if (id == AE_OPTION_WARM_START)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"warm_start\" is not available in ae_fit"),
					 errhint("Use ae_train(), which names the stored model to continue from.")));
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
		}
	}
	appendStringInfoChar(&s, '}');
	return s.data;
}
