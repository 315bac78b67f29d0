/*
 * test_infer.c — the one-row fused kernel (ae_infer_row) against the GEMM
 * path (ae_forward_range with B = 1) on random networks: every activation,
 * tied and untied weights, widths that exercise the 32-, 8- and 1-wide parts
 * of the kernel, and the encode / decode / reconstruct ranges; both the
 * portable and (when the CPU has it) the AVX2 variant.
 *
 * Tolerance: |fused - gemm| <= 1e-5 · (1 + max |gemm|) per range; the two
 * differ only by the order of the sums over inputs and by fused multiply-add
 * rounding.
 *
 * Also the row helpers: ae_infer_normalize equals ae_norm_apply bit for bit
 * and reports NaN, infinities and overflow; ae_infer_sq_diff_sum equals a
 * plain double loop to 1e-12 and propagates non-finite differences.
 */
#include <string.h>

#include "ae_infer.h"
#include "ae_norm.h"
#include "ae_rng.h"
#include "unit.h"

typedef struct Case
{
	const char *name;
	int			d;
	int			n_hidden;
	int			hidden[4];
	AeActivation act;
	AeActivation out_act;
	bool		tied;
} Case;

static const Case Cases[] = {
	{"64-32-8-32-64 relu", 64, 3, {32, 8, 32}, AE_ACT_RELU, AE_ACT_LINEAR, false},
	{"5-3-5 sigmoid", 5, 1, {3}, AE_ACT_SIGMOID, AE_ACT_SIGMOID, false},
	{"13-7-3-7-13 tanh tied", 13, 3, {7, 3, 7}, AE_ACT_TANH, AE_ACT_LINEAR, true},
	{"37-29-37 elu", 37, 1, {29}, AE_ACT_ELU, AE_ACT_LINEAR, false},
	{"100-50-10-50-100 leaky_relu, sigmoid output", 100, 3, {50, 10, 50}, AE_ACT_LEAKY_RELU, AE_ACT_SIGMOID, false},
	{"1-1-1 linear", 1, 1, {1}, AE_ACT_LINEAR, AE_ACT_LINEAR, false},
	{"70-41-20-41-70 relu tied", 70, 3, {41, 20, 41}, AE_ACT_RELU, AE_ACT_LINEAR, true},
};

static double
MaxAbs(const float *x, int n)
{
	double		m = 0.0;

	for (int i = 0; i < n; i++)
		m = fmax(m, fabs(x[i]));
	return m;
}

static void
RunCase(const Case *c, AeRng *rng)
{
	AeArch		arch;
	AeModel		model;
	char		errbuf[AE_ERRBUF_SIZE];
	float	   *params,
			   *packed,
			   *x,
			   *ref,
			   *got,
			   *scratch_gemm,
			   *scratch_row;
	int			L;

	ae_arch_make(&arch, c->d, c->n_hidden, c->hidden, c->act, c->out_act, c->tied);
	params = malloc(sizeof(float) * ae_arch_param_count(&arch));
	if (ae_model_bind(&model, &arch, params, errbuf) != AE_OK)
	{
		unit_ok(0, "%s: bind (%s)", c->name, errbuf);
		free(params);
		return;
	}
	ae_model_init_weights(&model, 7);
	/* non-zero biases, so that the bias path is exercised */
	for (int l = 0; l < model.n_layers; l++)
		for (int j = 0; j < model.dims[l + 1]; j++)
			model.b[l][j] = (float) (ae_rng_uniform(rng) - 0.5);
	L = model.n_layers;

	packed = malloc(sizeof(float) * ae_infer_packed_size(&model));
	ae_infer_pack(&model, packed);
	x = malloc(sizeof(float) * 2 * c->d);
	ref = malloc(sizeof(float) * c->d);
	got = malloc(sizeof(float) * c->d);
	scratch_gemm = malloc(sizeof(float) * ae_forward_scratch_size(&model, 1));
	scratch_row = malloc(sizeof(float) * ae_infer_scratch_size(&model));
	for (int i = 0; i < c->d; i++)
		x[i] = (float) (2.0 * ae_rng_uniform(rng) - 1.0);

	for (int variant = 0; variant < 2; variant++)
	{
		static const char *const RangeNames[] = {"encode", "decode", "reconstruct"};

		ae_infer_force_portable(variant == 0);
		if (variant == 1 && strcmp(ae_infer_variant(), "portable") == 0)
			break;				/* no SIMD variant on this CPU */
		for (int r = 0; r < 3; r++)
		{
			int			from = r == 1 ? arch.code_layer + 1 : 0;
			int			to = r == 0 ? arch.code_layer + 1 : L;
			int			n_out = model.dims[to];
			double		maxdiff = 0.0,
						tol;

			/* decode starts from a code: use the first dims[from] inputs */
			ae_forward_range(&model, from, to, x, 1, ref, scratch_gemm);
			memset(got, 0xff, sizeof(float) * c->d);	/* NaN garbage */
			ae_infer_row(&model, packed, from, to, x, got, scratch_row);
			for (int j = 0; j < n_out; j++)
				maxdiff = fmax(maxdiff, isfinite(got[j]) ? fabs(got[j] - ref[j]) : INFINITY);
			tol = 1e-5 * (1.0 + MaxAbs(ref, n_out));
			unit_ok(maxdiff <= tol, "%s, %s, %s kernel matches GEMM (max diff %.2e, tolerance %.2e)",
					c->name, RangeNames[r], ae_infer_variant(), maxdiff, tol);
		}
	}
	ae_infer_force_portable(false);

	free(params);
	free(packed);
	free(x);
	free(ref);
	free(got);
	free(scratch_gemm);
	free(scratch_row);
}

static void
TestPackLayout(void)
{
	AeArch		arch;
	AeModel		model;
	int			hidden[1] = {2};
	float		params[3 * 2 + 2 + 2 * 3 + 3];
	float		packed[12];
	char		errbuf[AE_ERRBUF_SIZE];

	/* 3-2-3: W0 is 2×3, W1 is 3×2; packed P0 is 3×2, P1 is 2×3 */
	ae_arch_make(&arch, 3, 1, hidden, AE_ACT_LINEAR, AE_ACT_LINEAR, false);
	for (int i = 0; i < (int) (sizeof(params) / sizeof(params[0])); i++)
		params[i] = (float) i;
	ae_model_bind(&model, &arch, params, errbuf);
	ae_infer_pack(&model, packed);
	/* W0 = [[0 1 2] [3 4 5]] → P0 = [[0 3] [1 4] [2 5]] */
	unit_ok(packed[0] == 0 && packed[1] == 3 && packed[2] == 1 && packed[3] == 4 &&
			packed[4] == 2 && packed[5] == 5, "layer 0 is packed transposed");
	/* W1 (after b0 = 6,7) = [[8 9] [10 11] [12 13]] → P1 = [[8 10 12] [9 11 13]] */
	unit_ok(packed[6] == 8 && packed[7] == 10 && packed[8] == 12 &&
			packed[9] == 9 && packed[10] == 11 && packed[11] == 13, "layer 1 is packed transposed");
	unit_ok(ae_infer_packed_size(&model) == 12, "packed size counts every layer's weights");
}

static void
TestRowHelpers(AeRng *rng)
{
	static const int Lengths[] = {1, 3, 7, 8, 9, 16, 64, 67};

	for (int variant = 0; variant < 2; variant++)
	{
		bool		norm_equal = true,
					norm_finite = true,
					sums_close = true;
		bool		catches_nan = true,
					catches_inf = true,
					catches_overflow = true,
					sum_propagates = true;

		ae_infer_force_portable(variant == 0);
		if (variant == 1 && strcmp(ae_infer_variant(), "portable") == 0)
			break;
		for (int t = 0; t < (int) (sizeof(Lengths) / sizeof(Lengths[0])); t++)
		{
			int			n = Lengths[t];
			float		x[67],
						off[67],
						sc[67],
						z[67],
						ref[67];
			double		plain = 0.0,
						got;

			for (int j = 0; j < n; j++)
			{
				x[j] = (float) (ae_rng_uniform(rng) * 20 - 10);
				off[j] = (float) (ae_rng_uniform(rng) * 2 - 1);
				sc[j] = (float) (ae_rng_uniform(rng) * 3 + 0.1);
				ref[j] = x[j];
			}
			ae_norm_apply(off, sc, ref, 1, n);
			norm_finite &= ae_infer_normalize(x, off, sc, z, n);
			norm_equal &= memcmp(z, ref, sizeof(float) * n) == 0;

			for (int j = 0; j < n; j++)
			{
				double		e = x[j] - z[j];

				plain += e * e;
			}
			got = ae_infer_sq_diff_sum(x, z, n);
			sums_close &= fabs(got - plain) <= 1e-12 * plain;

			/* a bad value in every position in turn */
			for (int j = 0; j < n; j++)
			{
				float		keep = x[j];

				x[j] = NAN;
				catches_nan &= !ae_infer_normalize(x, off, sc, z, n);
				sum_propagates &= isnan(ae_infer_sq_diff_sum(x, ref, n));
				x[j] = -INFINITY;
				catches_inf &= !ae_infer_normalize(x, off, sc, z, n);
				sum_propagates &= isinf(ae_infer_sq_diff_sum(x, ref, n));
				x[j] = 3e38f;
				sc[j] = 1e-3f;
				catches_overflow &= !ae_infer_normalize(x, off, sc, z, n);
				x[j] = keep;
				sc[j] = 1.0f;
			}
		}
		unit_ok(norm_equal && norm_finite, "%s: ae_infer_normalize equals ae_norm_apply bit for bit",
				ae_infer_variant());
		unit_ok(catches_nan && catches_inf && catches_overflow,
				"%s: ae_infer_normalize reports NaN, infinity and overflow in any position",
				ae_infer_variant());
		unit_ok(sums_close, "%s: ae_infer_sq_diff_sum equals a plain double loop", ae_infer_variant());
		unit_ok(sum_propagates, "%s: ae_infer_sq_diff_sum propagates NaN and infinity", ae_infer_variant());
	}
	ae_infer_force_portable(false);
}

/*
 * ae_all_finite against a plain loop: every length up to 70 and a long
 * array crossing its 4096-float blocks, with NaN, +Inf, -Inf, the largest
 * finite float and a subnormal at every position.
 */
static void
TestAllFinite(void)
{
	enum
	{
		LONG = 9000
	};
	static float x[LONG];
	const float specials[] = {NAN, INFINITY, -INFINITY, 3.4028235e38f, 1e-45f, -0.0f};
	int			wrong = 0,
				checked = 0;

	for (int n = 0; n <= LONG; n = n < 70 ? n + 1 : n == 70 ? LONG : LONG + 1)
	{
		for (int pos = 0; pos < n; pos += n < 70 ? 1 : 997)
			for (int k = 0; k < (int) (sizeof(specials) / sizeof(specials[0])); k++)
			{
				bool		want;

				for (int i = 0; i < n; i++)
					x[i] = (float) i * 0.5f - 3.0f;
				x[pos] = specials[k];
				want = isfinite(specials[k]);
				wrong += ae_all_finite(x, (size_t) n) != want;
				checked++;
			}
		for (int i = 0; i < n; i++)
			x[i] = 1.0f;
		wrong += !ae_all_finite(x, (size_t) n);
		checked++;
	}
	unit_ok(wrong == 0, "ae_all_finite agrees with isfinite on %d arrays (lengths 0-70 and %d, a special value at each position): %d wrong",
			checked, LONG, wrong);
}

int
main(void)
{
	AeRng		rng;

	ae_rng_seed(&rng, 2024);
	TestPackLayout();
	for (int i = 0; i < (int) (sizeof(Cases) / sizeof(Cases[0])); i++)
		RunCase(&Cases[i], &rng);
	TestRowHelpers(&rng);
	TestAllFinite();
	unit_diag("fastest variant on this CPU: %s", ae_infer_variant());
	return unit_done();
}
