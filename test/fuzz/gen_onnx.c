/*
 * gen_onnx.c — writes the seed corpus of fuzz_onnx: ONNX models written by
 * ae_onnx_write, one file each, into the directory given.
 *
 * They cover every activation, tied and untied networks (a tied one is
 * written untied), one to five hidden layers, a sigmoid output, trivial
 * and real normalisation, and the smallest network (1-1-1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ae_onnx.h"
#include "ae_rng.h"

typedef struct Shape
{
	int			n_inputs;
	int			n_hidden;
	int			hidden[5];
	AeActivation act;
	AeActivation output_act;
	bool		tied;
	bool		norm;
} Shape;

static const Shape Shapes[] = {
	{5, 3, {4, 2, 4}, AE_ACT_RELU, AE_ACT_LINEAR, false, true},
	{5, 3, {4, 2, 4}, AE_ACT_TANH, AE_ACT_SIGMOID, false, false},
	{5, 1, {3}, AE_ACT_SIGMOID, AE_ACT_LINEAR, true, true},
	{1, 1, {1}, AE_ACT_LINEAR, AE_ACT_LINEAR, false, false},
	{8, 5, {6, 4, 2, 4, 6}, AE_ACT_ELU, AE_ACT_LINEAR, false, true},
	{3, 2, {2, 3}, AE_ACT_LEAKY_RELU, AE_ACT_LINEAR, false, true},
};

static void *
Alloc(void *ctx, size_t size)
{
	(void) ctx;
	return malloc(size);
}

static void
Free(void *ctx, void *ptr)
{
	(void) ctx;
	free(ptr);
}

static const AeAllocator plain = {Alloc, Free, NULL};

int
main(int argc, char **argv)
{
	if (argc != 2)
	{
		fprintf(stderr, "usage: %s DIRECTORY\n", argv[0]);
		return 2;
	}
	for (size_t i = 0; i < sizeof(Shapes) / sizeof(Shapes[0]); i++)
	{
		const Shape *s = &Shapes[i];
		AeBundle	b;
		AeRng		rng;
		int			d = s->n_inputs;
		size_t		n,
					len;
		uint8_t    *buf;
		char		path[4096],
					err[AE_ERRBUF_SIZE];
		FILE	   *f;

		memset(&b, 0, sizeof(b));
		ae_arch_make(&b.arch, d, s->n_hidden, s->hidden, s->act, s->output_act, s->tied);
		ae_rng_seed(&rng, 1000 + i);
		n = ae_arch_param_count(&b.arch);
		b.params = malloc(n * sizeof(float));
		b.norm_offset = malloc(d * sizeof(float));
		b.norm_scale = malloc(d * sizeof(float));
		for (size_t k = 0; k < n; k++)
			b.params[k] = (float) (ae_rng_uniform(&rng) * 2.0 - 1.0);
		for (int j = 0; j < d; j++)
		{
			b.norm_offset[j] = s->norm ? (float) (10.0 * ae_rng_uniform(&rng)) : 0.0f;
			b.norm_scale[j] = s->norm ? (float) (0.5 + ae_rng_uniform(&rng)) : 1.0f;
		}
		b.feature_mean = b.norm_offset;
		if (ae_onnx_write(&b, "seed", "0", &plain, &buf, &len, err) != AE_OK)
		{
			fprintf(stderr, "gen_onnx: shape %zu: %s\n", i, err);
			return 1;
		}
		snprintf(path, sizeof(path), "%s/seed_%02zu.onnx", argv[1], i);
		f = fopen(path, "wb");
		if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0)
		{
			perror(path);
			return 1;
		}
		free(buf);
		free(b.params);
		free(b.norm_offset);
		free(b.norm_scale);
	}
	return 0;
}
