/*
 * test_names.c — the name tables of the enumerations and their one
 * matching rule: equal up to ASCII letter case, nothing else; the
 * canonical (printed) spelling is lower case.
 */
#include <string.h>

#include "ae_names.h"
#include "ae_nn.h"
#include "ae_norm.h"
#include "ae_optim.h"
#include "unit.h"

/* every value 0..n-1 of an enumeration has exactly one lower-case name that parses back */
static void
CheckTable(const char *what, const AeName *table, int n)
{
	bool		ok = true;
	int			count = 0;

	for (const AeName *e = table; e->name; e++)
	{
		int			v = -1;

		count++;
		for (const char *c = e->name; *c; c++)
			ok &= !(*c >= 'A' && *c <= 'Z');
		ok &= ae_name_parse(table, e->name, &v) && v == e->value;
		ok &= strcmp(ae_name_of(table, e->value), e->name) == 0;
	}
	for (int i = 0; i < n; i++)
		ok &= ae_name_of(table, i) != NULL;
	ok &= ae_name_of(table, n) == NULL && ae_name_of(table, -1) == NULL;
	unit_ok(ok && count == n, "%s: %d lower-case names, one per value, each parses back", what, count);
}

static void
TestTables(void)
{
	CheckTable("activations", ae_activation_names, AE_ACT_ELU + 1);
	CheckTable("losses", ae_loss_names, AE_LOSS_BCE + 1);
	CheckTable("noises", ae_noise_names, AE_NOISE_MASK + 1);
	CheckTable("normalisations", ae_norm_names, AE_NORM_MINMAX + 1);
	CheckTable("optimizers", ae_optimizer_names, AE_OPT_ADAMW + 1);
}

static void
TestCase(void)
{
	AeActivation act = AE_ACT_LINEAR;
	AeNormMethod norm = AE_NORM_NONE;
	int			v = -1;

	unit_ok(ae_activation_parse("ReLU", &act) && act == AE_ACT_RELU, "\"ReLU\" is relu");
	unit_ok(ae_activation_parse("LEAKY_RELU", &act) && act == AE_ACT_LEAKY_RELU,
			"\"LEAKY_RELU\" is leaky_relu");
	unit_ok(ae_norm_parse("ZScore", &norm) && norm == AE_NORM_ZSCORE, "\"ZScore\" is zscore");
	unit_ok(ae_name_parse(ae_optimizer_names, "AdamW", &v) && v == AE_OPT_ADAMW, "\"AdamW\" is adamw");
	unit_ok(ae_name_parse(ae_loss_names, "BCE", &v) && v == AE_LOSS_BCE, "\"BCE\" is bce");
	unit_ok(ae_name_parse(ae_noise_names, "Gaussian", &v) && v == AE_NOISE_GAUSSIAN,
			"\"Gaussian\" is gaussian");
	unit_ok(strcmp(ae_activation_name(AE_ACT_RELU), "relu") == 0 &&
			strcmp(ae_norm_name(AE_NORM_ZSCORE), "zscore") == 0 &&
			strcmp(ae_optimizer_name(AE_OPT_ADAMW), "adamw") == 0,
			"printed names are the canonical lower-case ones");
}

static void
TestRejects(void)
{
	static const char *const bad[] = {
		"", "rel", "reluu", " relu", "relu ", "re lu", "leaky-relu", "leakyrelu", "r\xc3\xa9lu"
	};
	AeActivation act = AE_ACT_TANH;
	bool		ok = true;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok &= !ae_activation_parse(bad[i], &act);
	unit_ok(ok && act == AE_ACT_TANH,
			"prefixes, extensions, blanks, other separators and non-ASCII are rejected, the output untouched");
	unit_ok(!ae_name_equal("none", "NONE\x01") && ae_name_equal("", "") && !ae_name_equal("a", ""),
			"ae_name_equal compares whole strings");
	unit_ok(strcmp(ae_activation_name((AeActivation) 99), "unknown") == 0,
			"a value outside the enumeration prints as unknown");
}

static void
TestList(void)
{
	char		buf[128];
	char		tiny[8];

	unit_ok(strcmp(ae_name_list(ae_activation_names, buf, sizeof(buf)),
				   "linear, sigmoid, tanh, relu, leaky_relu or elu") == 0,
			"activation list: %s", buf);
	unit_ok(strcmp(ae_name_list(ae_loss_names, buf, sizeof(buf)), "mse or bce") == 0,
			"loss list: %s", buf);
	unit_ok(strcmp(ae_name_list(ae_norm_names, buf, sizeof(buf)), "none, zscore or minmax") == 0,
			"normalisation list: %s", buf);
	memset(tiny, 'x', sizeof(tiny));
	ae_name_list(ae_activation_names, tiny, sizeof(tiny));
	unit_ok(strcmp(tiny, "linear,") == 0, "a short buffer is truncated and terminated: \"%s\"", tiny);
}

int
main(void)
{
	TestTables();
	TestCase();
	TestRejects();
	TestList();
	return unit_done();
}
