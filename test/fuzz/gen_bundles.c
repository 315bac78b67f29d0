/*
 * gen_bundles.c — writes the seed corpus of fuzz_bundle: valid serialised
 * bundles of several shapes, one file each, into the directory given.
 *
 * Together they cover every section in both its forms: plain and tied
 * networks, one to five hidden layers, each activation, the three
 * normalisations, threshold and quantiles known or not (NaN, as for an
 * imported model), with and without history, configuration text and
 * column names, and the smallest network (1-1-1).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ae_bundle.h"
#include "ae_rng.h"

typedef struct Shape
{
	int			n_inputs;
	int			n_hidden;
	int			hidden[5];
	AeActivation act;
	AeActivation output_act;
	bool		tied;
	AeNormMethod norm;
	bool		known;			/* threshold, quantiles and losses known */
	bool		extras;			/* history, configuration, column names */
} Shape;

static const Shape Shapes[] = {
	{5, 3, {4, 2, 4}, AE_ACT_RELU, AE_ACT_LINEAR, false, AE_NORM_ZSCORE, true, true},
	{5, 3, {4, 2, 4}, AE_ACT_RELU, AE_ACT_SIGMOID, false, AE_NORM_MINMAX, false, false},
	{5, 1, {3}, AE_ACT_TANH, AE_ACT_LINEAR, true, AE_NORM_ZSCORE, true, true},
	{6, 3, {4, 2, 4}, AE_ACT_SIGMOID, AE_ACT_SIGMOID, true, AE_NORM_NONE, true, false},
	{1, 1, {1}, AE_ACT_LINEAR, AE_ACT_LINEAR, false, AE_NORM_NONE, false, false},
	{8, 5, {6, 4, 2, 4, 6}, AE_ACT_ELU, AE_ACT_LINEAR, false, AE_NORM_ZSCORE, true, true},
	{3, 2, {2, 3}, AE_ACT_LEAKY_RELU, AE_ACT_LINEAR, false, AE_NORM_MINMAX, true, true},
	{4, 1, {2}, AE_ACT_RELU, AE_ACT_LINEAR, false, AE_NORM_ZSCORE, true, false},
};

static void
MakeBundle(AeBundle *b, const Shape *s, uint64_t seed)
{
	AeRng		rng;
	size_t		n;
	int			d = s->n_inputs;

	memset(b, 0, sizeof(*b));
	ae_arch_make(&b->arch, d, s->n_hidden, s->hidden, s->act, s->output_act, s->tied);
	ae_rng_seed(&rng, seed);
	n = ae_arch_param_count(&b->arch);
	b->params = malloc(n * sizeof(float));
	for (size_t i = 0; i < n; i++)
		b->params[i] = (float) (ae_rng_uniform(&rng) * 2.0 - 1.0);
	b->norm_method = s->norm;
	b->norm_offset = malloc(d * sizeof(float));
	b->norm_scale = malloc(d * sizeof(float));
	b->feature_mean = malloc(d * sizeof(float));
	for (int j = 0; j < d; j++)
	{
		b->norm_offset[j] = s->norm == AE_NORM_NONE ? 0.0f : (float) (10.0 * ae_rng_uniform(&rng));
		b->norm_scale[j] = s->norm == AE_NORM_NONE ? 1.0f : (float) (0.5 + ae_rng_uniform(&rng));
		b->feature_mean[j] = (float) (5.0 * ae_rng_uniform(&rng));
	}
	if (s->known)
	{
		b->contamination = 0.05;
		b->threshold = 1.5;
		for (int i = 0; i < AE_BUNDLE_N_QUANTILES; i++)
			b->quantiles[i] = 0.02 * i;
		b->train_loss = 0.25;
		b->val_loss = 0.3;
	}
	else
	{
		b->contamination = NAN;
		b->threshold = NAN;
		for (int i = 0; i < AE_BUNDLE_N_QUANTILES; i++)
			b->quantiles[i] = NAN;
		b->train_loss = NAN;
		b->val_loss = NAN;
	}
	b->n_rows = s->known ? 1000 : 0;
	b->epochs_run = s->known ? 3 : 0;
	if (s->extras)
	{
		static const char config[] = "{\"epochs\": 3, \"optimizer\": \"adam\", \"seed\": 7}";
		size_t		len = 0;

		b->n_history = 3;
		b->history = malloc(3 * sizeof(AeEpochStats));
		for (int i = 0; i < 3; i++)
		{
			b->history[i].epoch = i + 1;
			b->history[i].train_loss = 1.0 / (i + 1);
			b->history[i].val_loss = i == 1 ? NAN : 2.0 / (i + 1);
			b->history[i].seconds = 0.01 * i;
		}
		b->config_json = malloc(sizeof(config));
		memcpy(b->config_json, config, sizeof(config));
		b->columns = malloc(16 * (size_t) d);
		for (int j = 0; j < d; j++)
			len += (size_t) sprintf(b->columns + len, "col_%d", j) + 1;
		b->n_columns = d;
		b->columns_len = len;
	}
}

static void
FreeBundle(AeBundle *b)
{
	free(b->params);
	free(b->norm_offset);
	free(b->norm_scale);
	free(b->feature_mean);
	free(b->history);
	free(b->config_json);
	free(b->columns);
}

int
main(int argc, char **argv)
{
	int			n_shapes = (int) (sizeof(Shapes) / sizeof(Shapes[0]));

	if (argc != 2)
	{
		fprintf(stderr, "usage: %s DIRECTORY\n", argv[0]);
		return 2;
	}
	for (int i = 0; i < n_shapes; i++)
	{
		AeBundle	b;
		size_t		len;
		uint8_t    *buf;
		char		path[4096];
		FILE	   *f;

		MakeBundle(&b, &Shapes[i], (uint64_t) i + 1);
		len = ae_bundle_serialized_size(&b);
		buf = malloc(len);
		ae_bundle_serialize(&b, buf);
		snprintf(path, sizeof(path), "%s/seed-%02d.bundle", argv[1], i);
		f = fopen(path, "wb");
		if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0)
		{
			perror(path);
			return 1;
		}
		free(buf);
		FreeBundle(&b);
	}
	printf("%d seed bundles in %s\n", n_shapes, argv[1]);
	return 0;
}
