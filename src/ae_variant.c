/*
 * ae_variant.c — ae_model_variant(config, n_inputs, code_width): the variant
 * labels ae_models shows for a model, from its stored configuration.
 *
 *   sparse_l1    l1_activity > 0
 *   sparse_kl    sparsity_weight > 0
 *   denoising    noise is a string other than 'none'
 *   contractive  contractive > 0
 *   with none of these: undercomplete (code narrower than the input) or
 *   overcomplete.
 *
 * A value of the wrong JSON type counts as absent: an imported configuration
 * must not break the view for everybody.  Numbers are compared as numeric,
 * not float8, since a JSON number such as 1e400 is beyond double precision.
 * In C rather than SQL: a function the view calls for every row must not
 * depend on how the caller's search_path resolves names.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

/* The value of key in a JSON object, or false when absent. */
static bool
GetKey(Jsonb *config, const char *key, JsonbValue *value)
{
	if (config == NULL || !JB_ROOT_IS_OBJECT(config))
		return false;
	return getKeyJsonValueFromContainer(&config->root, key, strlen(key), value) != NULL;
}

static bool
PositiveNumber(Jsonb *config, const char *key)
{
	JsonbValue	v;

	if (!GetKey(config, key, &v) || v.type != jbvNumeric)
		return false;
	return DatumGetBool(DirectFunctionCall2(numeric_gt, NumericGetDatum(v.val.numeric),
											DirectFunctionCall1(int4_numeric, Int32GetDatum(0))));
}

static bool
Denoising(Jsonb *config)
{
	JsonbValue	v;

	return GetKey(config, "noise", &v) && v.type == jbvString &&
		!(v.val.string.len == 4 && memcmp(v.val.string.val, "none", 4) == 0);
}

PG_FUNCTION_INFO_V1(ae_model_variant);
Datum
ae_model_variant(PG_FUNCTION_ARGS)
{
	Jsonb	   *config = PG_ARGISNULL(0) ? NULL : PG_GETARG_JSONB_P(0);
	Datum		labels[4];
	int			n = 0;

	if (PositiveNumber(config, "l1_activity"))
		labels[n++] = CStringGetTextDatum("sparse_l1");
	if (PositiveNumber(config, "sparsity_weight"))
		labels[n++] = CStringGetTextDatum("sparse_kl");
	if (Denoising(config))
		labels[n++] = CStringGetTextDatum("denoising");
	if (PositiveNumber(config, "contractive"))
		labels[n++] = CStringGetTextDatum("contractive");
	if (n == 0)
	{
		bool		under = !PG_ARGISNULL(1) && !PG_ARGISNULL(2) &&
			PG_GETARG_INT32(2) < PG_GETARG_INT32(1);

		labels[n++] = CStringGetTextDatum(under ? "undercomplete" : "overcomplete");
	}
	PG_RETURN_ARRAYTYPE_P(construct_array(labels, n, TEXTOID, -1, false, TYPALIGN_INT));
}
