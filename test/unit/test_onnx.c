/*
 * test_onnx.c — the ONNX writer and reader (ae_onnx_write, ae_onnx_read):
 * round trips of every activation, tied and deep networks and both output
 * activations; refusals of damaged files, each with its reason; the size
 * limit before anything is read; and allocation failure at every step,
 * which must give AE_ERR_NOMEM and leak nothing.
 *
 * The cross-checks against tools autoenc did not write (PyTorch's exports,
 * onnx.checker, a NumPy evaluation) are in test/reference/onnx_check.py.
 */
#include <string.h>

#include "ae_infer.h"
#include "ae_onnx.h"
#include "ae_rng.h"
#include "unit.h"
#include "counting_alloc.h"


typedef struct Shape
{
	const char *label;
	int			d;
	int			n_hidden;
	int			hidden[5];
	AeActivation act;
	AeActivation out;
	bool		tied;
} Shape;

static const Shape Shapes[] = {
	{"relu 5-4-2-4-5", 5, 3, {4, 2, 4}, AE_ACT_RELU, AE_ACT_LINEAR, false},
	{"tanh, sigmoid output", 4, 1, {3}, AE_ACT_TANH, AE_ACT_SIGMOID, false},
	{"sigmoid, tied", 6, 3, {4, 2, 4}, AE_ACT_SIGMOID, AE_ACT_LINEAR, true},
	{"leaky_relu", 3, 1, {2}, AE_ACT_LEAKY_RELU, AE_ACT_LINEAR, false},
	{"elu, deep", 8, 5, {6, 4, 2, 4, 6}, AE_ACT_ELU, AE_ACT_LINEAR, false},
	{"linear 1-1-1", 1, 1, {1}, AE_ACT_LINEAR, AE_ACT_LINEAR, false},
};

static void
MakeBundle(AeBundle *b, const Shape *s, uint64_t seed)
{
	AeRng		rng;
	size_t		n;

	memset(b, 0, sizeof(*b));
	ae_arch_make(&b->arch, s->d, s->n_hidden, s->hidden, s->act, s->out, s->tied);
	ae_rng_seed(&rng, seed);
	n = ae_arch_param_count(&b->arch);
	b->params = malloc(n * sizeof(float));
	b->norm_offset = malloc(s->d * sizeof(float));
	b->norm_scale = malloc(s->d * sizeof(float));
	for (size_t i = 0; i < n; i++)
		b->params[i] = (float) (ae_rng_uniform(&rng) * 2.0 - 1.0);
	for (int j = 0; j < s->d; j++)
	{
		b->norm_offset[j] = (float) (10.0 * ae_rng_uniform(&rng) - 5.0);
		b->norm_scale[j] = (float) (0.25 + ae_rng_uniform(&rng));
	}
	b->feature_mean = b->norm_offset;
}

static void
FreeBundle(AeBundle *b)
{
	free(b->params);
	free(b->norm_offset);
	free(b->norm_scale);
}

/* One row (x = offset + j/4) through a bundle's network, normalised space. */
static void
Reconstruct(const AeBundle *b, float *out)
{
	AeModel		m;
	int			d = b->arch.n_inputs;
	float	   *packed,
			   *scratch,
			   *z = malloc(d * sizeof(float));

	ae_model_bind(&m, &b->arch, b->params, NULL);
	packed = malloc(ae_infer_packed_size(&m) * sizeof(float));
	scratch = malloc(ae_infer_scratch_size(&m) * sizeof(float));
	for (int j = 0; j < d; j++)
		z[j] = b->norm_offset[j] + 0.25f * j;
	ae_infer_pack(&m, packed);
	ae_infer_normalize(z, b->norm_offset, b->norm_scale, z, d);
	ae_infer_row(&m, packed, 0, m.n_layers, z, out, scratch);
	free(packed);
	free(scratch);
	free(z);
}

static void
TestRoundTrip(void)
{
	for (size_t i = 0; i < sizeof(Shapes) / sizeof(Shapes[0]); i++)
	{
		const Shape *s = &Shapes[i];
		AeBundle	b,
					r;
		uint8_t    *buf;
		size_t		len;
		char		err[AE_ERRBUF_SIZE] = "";
		AeOnnxProblem problem;
		AeStatus	st;
		float		want[8],
					got[8];

		MakeBundle(&b, s, 100 + i);
		live_blocks = 0;
		st = ae_onnx_write(&b, "unit", "0", &counting, &buf, &len, err);
		unit_ok(st == AE_OK && len > 0, "%s: written (%zu bytes)", s->label, len);
		st = ae_onnx_read(buf, len, -1, &r, &counting, &problem, err);
		unit_ok(st == AE_OK && problem == AE_ONNX_OK, "%s: read back (%s)", s->label, st == AE_OK ? "ok" : err);
		if (st != AE_OK)
		{
			ae_free(&counting, buf);
			FreeBundle(&b);
			continue;
		}
		unit_ok(r.arch.n_hidden == b.arch.n_hidden && r.arch.code_layer == b.arch.code_layer &&
				r.arch.output_act == b.arch.output_act && !r.arch.tied &&
				memcmp(r.arch.hidden, b.arch.hidden, sizeof(int) * b.arch.n_hidden) == 0 &&
				memcmp(r.arch.hidden_act, b.arch.hidden_act, sizeof(AeActivation) * b.arch.n_hidden) == 0,
				"%s: same architecture (untied), code layer %d", s->label, r.arch.code_layer);
		unit_ok(memcmp(r.norm_offset, b.norm_offset, s->d * sizeof(float)) == 0 &&
				memcmp(r.norm_scale, b.norm_scale, s->d * sizeof(float)) == 0 &&
				memcmp(r.feature_mean, b.norm_offset, s->d * sizeof(float)) == 0,
				"%s: normalisation bit for bit, feature mean = offset", s->label);
		if (!s->tied)
			unit_ok(memcmp(r.params, b.params, ae_arch_param_count(&b.arch) * sizeof(float)) == 0,
					"%s: parameters bit for bit", s->label);
		Reconstruct(&b, want);
		Reconstruct(&r, got);
		unit_ok(memcmp(want, got, s->d * sizeof(float)) == 0, "%s: reconstructs a row identically", s->label);
		unit_ok(isnan(r.threshold) && isnan(r.contamination) && isnan(r.quantiles[0]) &&
				isnan(r.quantiles[AE_BUNDLE_N_QUANTILES - 1]) && r.norm_method == AE_NORM_ZSCORE,
				"%s: no threshold or quantiles, normalisation zscore", s->label);
		ae_bundle_free(&r, &counting);
		ae_free(&counting, buf);
		unit_ok(live_blocks == 0, "%s: every block freed", s->label);
		FreeBundle(&b);
	}
}

/* Replace the first max occurrences of from by to (same length) in buf. */
static void
SwapFirst(uint8_t *buf, size_t len, const char *from, const char *to, int max)
{
	size_t		n = strlen(from);

	for (size_t i = 0; i + n <= len && max > 0; i++)
		if (memcmp(buf + i, from, n) == 0)
		{
			memcpy(buf + i, to, n);
			max--;
		}
}

static void
Swap(uint8_t *buf, size_t len, const char *from, const char *to)
{
	SwapFirst(buf, len, from, to, 1 << 30);
}

static void
ExpectRefusal(const uint8_t *buf, size_t len, AeOnnxProblem want, const char *needle, const char *label)
{
	AeBundle	r;
	AeOnnxProblem problem;
	char		err[AE_ERRBUF_SIZE] = "";
	AeStatus	st;

	live_blocks = 0;
	st = ae_onnx_read(buf, len, -1, &r, &counting, &problem, err);
	unit_ok(st == AE_ERR_FORMAT && problem == want && strstr(err, needle) != NULL && live_blocks == 0,
			"%s: refused (%s)", label, err);
}

static void
TestRefusals(void)
{
	AeBundle	b;
	uint8_t    *buf,
			   *copy;
	size_t		len;
	char		err[AE_ERRBUF_SIZE];

	MakeBundle(&b, &Shapes[0], 7);
	ae_onnx_write(&b, "unit", "0", &unit_allocator, &buf, &len, err);
	copy = malloc(len);

	memcpy(copy, buf, len);
	Swap(copy, len, "Relu", "Selu");
	ExpectRefusal(copy, len, AE_ONNX_UNSUPPORTED, "(Selu) is not supported", "Relu renamed Selu");

	memcpy(copy, buf, len);
	Swap(copy, len, "Gemm", "Conv");
	ExpectRefusal(copy, len, AE_ONNX_UNSUPPORTED, "(Conv) is not supported", "Gemm renamed Conv");

	memcpy(copy, buf, len);
	Swap(copy, len, "transB", "transA");
	ExpectRefusal(copy, len, AE_ONNX_UNSUPPORTED, "transA 1", "transB renamed transA");

	memcpy(copy, buf, len);
	/* the first occurrence is the producing Gemm's output: its consumers lose it */
	SwapFirst(copy, len, "reconstruction_normalized", "reconstruction_normalizeX", 1);
	ExpectRefusal(copy, len, AE_ONNX_INVALID, "is computed by no node", "a broken link");

	ExpectRefusal(buf, len / 2, AE_ONNX_MALFORMED, "protobuf parsing failed", "truncated to half");
	ExpectRefusal(buf, 0, AE_ONNX_MALFORMED, "no graph", "empty");
	/* the size is refused before a byte is read: the buffer is far shorter */
	ExpectRefusal(buf, AE_ONNX_MAX_BYTES + 1, AE_ONNX_TOO_LARGE, "at most", "over the size limit");

	{
		AeBundle	r;
		AeOnnxProblem problem;

		unit_ok(ae_onnx_read(buf, len, 3, &r, &unit_allocator, &problem, err) == AE_ERR_FORMAT &&
				problem == AE_ONNX_INVALID, "code_layer 3 of 3 hidden layers refused (%s)", err);
		unit_ok(ae_onnx_read(buf, len, 0, &r, &unit_allocator, &problem, err) == AE_OK &&
				r.arch.code_layer == 0, "code_layer 0 taken");
		ae_bundle_free(&r, &unit_allocator);
	}
	free(copy);
	free(buf);
	FreeBundle(&b);
}

/* Every allocation of a read, failed in turn: AE_ERR_NOMEM, nothing leaked. */
static void
TestAllocationFailure(void)
{
	AeBundle	b,
				r;
	uint8_t    *buf;
	size_t		len;
	char		err[AE_ERRBUF_SIZE];
	AeOnnxProblem problem;
	long		needed;
	bool		all_ok = true;

	MakeBundle(&b, &Shapes[4], 9);
	ae_onnx_write(&b, "unit", "0", &unit_allocator, &buf, &len, err);
	fail_at = -1;
	alloc_calls = 0;
	live_blocks = 0;
	ae_onnx_read(buf, len, -1, &r, &counting, &problem, err);
	ae_bundle_free(&r, &counting);
	needed = alloc_calls;
	for (long k = 0; k < needed; k++)
	{
		AeStatus	st;

		fail_at = k;
		alloc_calls = 0;
		live_blocks = 0;
		st = ae_onnx_read(buf, len, -1, &r, &counting, &problem, err);
		if (st != AE_ERR_NOMEM || live_blocks != 0)
		{
			unit_diag("failing allocation %ld: status %d, %ld blocks live", k, (int) st, live_blocks);
			all_ok = false;
		}
	}
	fail_at = -1;
	unit_ok(all_ok, "each of the %ld allocations of a read failed in turn: AE_ERR_NOMEM, nothing leaked", needed);

	all_ok = true;
	alloc_calls = 0;
	live_blocks = 0;
	{
		uint8_t    *out;
		size_t		n;

		ae_onnx_write(&b, "unit", "0", &counting, &out, &n, err);
		ae_free(&counting, out);
	}
	needed = alloc_calls;
	for (long k = 0; k < needed; k++)
	{
		uint8_t    *out;
		size_t		n;
		AeStatus	st;

		fail_at = k;
		alloc_calls = 0;
		live_blocks = 0;
		st = ae_onnx_write(&b, "unit", "0", &counting, &out, &n, err);
		if (st != AE_ERR_NOMEM || live_blocks != 0 || out != NULL)
			all_ok = false;
	}
	fail_at = -1;
	unit_ok(all_ok, "each of the %ld allocations of a write failed in turn: AE_ERR_NOMEM, nothing leaked", needed);
	free(buf);
	FreeBundle(&b);
}

int
main(void)
{
	TestRoundTrip();
	TestRefusals();
	TestAllocationFailure();
	return unit_done();
}
