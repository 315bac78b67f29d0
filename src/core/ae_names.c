/*
 * ae_names.c — the name tables of the core's enumerations and the one
 * rule that matches a user's spelling against them (see ae_names.h).
 *
 * The typed helpers declared beside each enumeration (ae_activation_name
 * in ae_nn.h, ae_norm_name in ae_norm.h, ae_optimizer_name in ae_optim.h,
 * ...) are defined here too, over the same tables.
 */
#include "ae_names.h"

#include <stdio.h>
#include <string.h>

#include "ae_nn.h"
#include "ae_norm.h"
#include "ae_optim.h"

const AeName ae_activation_names[] = {
	{"linear", AE_ACT_LINEAR},
	{"sigmoid", AE_ACT_SIGMOID},
	{"tanh", AE_ACT_TANH},
	{"relu", AE_ACT_RELU},
	{"leaky_relu", AE_ACT_LEAKY_RELU},
	{"elu", AE_ACT_ELU},
	{NULL, 0}
};

const AeName ae_loss_names[] = {
	{"mse", AE_LOSS_MSE},
	{"bce", AE_LOSS_BCE},
	{NULL, 0}
};

const AeName ae_noise_names[] = {
	{"none", AE_NOISE_NONE},
	{"gaussian", AE_NOISE_GAUSSIAN},
	{"mask", AE_NOISE_MASK},
	{NULL, 0}
};

const AeName ae_norm_names[] = {
	{"none", AE_NORM_NONE},
	{"zscore", AE_NORM_ZSCORE},
	{"minmax", AE_NORM_MINMAX},
	{NULL, 0}
};

const AeName ae_optimizer_names[] = {
	{"sgd", AE_OPT_SGD},
	{"momentum", AE_OPT_MOMENTUM},
	{"adam", AE_OPT_ADAM},
	{"adamw", AE_OPT_ADAMW},
	{NULL, 0}
};

/* ---------------------------------------------------------------- lookups */

static inline char
AsciiLower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char) (c - 'A' + 'a') : c;
}

bool
ae_name_equal(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (AsciiLower(*a) != AsciiLower(*b))
			return false;
	return *a == *b;
}

const char *
ae_name_of(const AeName *table, int value)
{
	for (const AeName *e = table; e->name; e++)
		if (e->value == value)
			return e->name;
	return NULL;
}

bool
ae_name_parse(const AeName *table, const char *name, int *value)
{
	for (const AeName *e = table; e->name; e++)
		if (ae_name_equal(name, e->name))
		{
			*value = e->value;
			return true;
		}
	return false;
}

char *
ae_name_list(const AeName *table, char *buf, size_t size)
{
	size_t		len = 0;

	if (size == 0)
		return buf;
	buf[0] = '\0';
	for (const AeName *e = table; e->name && len < size; e++)
	{
		const char *sep = e == table ? "" : e[1].name ? ", " : " or ";
		int			w = snprintf(buf + len, size - len, "%s%s", sep, e->name);

		if (w < 0)
			break;
		len += (size_t) w;
	}
	return buf;
}

/* ---------------------------------------------------------------- typed helpers */

static const char *
NameOrUnknown(const AeName *table, int value)
{
	const char *name = ae_name_of(table, value);

	return name ? name : "unknown";
}

const char *
ae_activation_name(AeActivation act)
{
	return NameOrUnknown(ae_activation_names, (int) act);
}

const char *
ae_norm_name(AeNormMethod method)
{
	return NameOrUnknown(ae_norm_names, (int) method);
}

const char *
ae_optimizer_name(AeOptimizerKind kind)
{
	return NameOrUnknown(ae_optimizer_names, (int) kind);
}

/* the enumerations' own types, so that no caller casts an int into them */
bool
ae_activation_parse(const char *name, AeActivation *act)
{
	int			v;

	if (!ae_name_parse(ae_activation_names, name, &v))
		return false;
	*act = (AeActivation) v;
	return true;
}

bool
ae_norm_parse(const char *name, AeNormMethod *method)
{
	int			v;

	if (!ae_name_parse(ae_norm_names, name, &v))
		return false;
	*method = (AeNormMethod) v;
	return true;
}
