/*
 * fuzz_onnx.c — libFuzzer harness for the ONNX reader (ae_onnx_read),
 * built with ASan and UBSan, no server.
 *
 * For each input the harness checks what ae_onnx.h promises:
 *   - a refusal is AE_ERR_FORMAT with a reason and a message, leaves
 *     *bundle zeroed and nothing allocated (protobuf-c's allocations
 *     included: they go through the same counting allocator);
 *   - an accepted model passes ae_arch_validate and ae_model_bind, has
 *     finite parameters and non-zero scales, and can be scored: one row
 *     (the offset) through the fused kernel, as ae_error does;
 *   - written back with ae_onnx_write and read again, it is the same model:
 *     architecture, parameters and normalisation bit for bit;
 *   - every block is released.
 * A broken promise aborts, which libFuzzer reports as a crash with the
 * input saved.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ae_infer.h"
#include "ae_onnx.h"
#include "counting_alloc.h"
#include "fuzz_check.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
ScoreOneRow(const AeBundle *b)
{
	AeModel		m;
	char		err[AE_ERRBUF_SIZE];
	int			d = b->arch.n_inputs;
	float	   *packed,
			   *scratch,
			   *z,
			   *out;

	CHECK(ae_arch_validate(&b->arch, err) == AE_OK);
	CHECK(ae_model_bind(&m, &b->arch, b->params, err) == AE_OK);
	for (size_t i = 0; i < m.n_params; i++)
		CHECK(isfinite(b->params[i]));
	for (int j = 0; j < d; j++)
		CHECK(isfinite(b->norm_offset[j]) && isfinite(b->norm_scale[j]) &&
			  b->norm_scale[j] != 0.0f && b->feature_mean[j] == b->norm_offset[j]);
	CHECK(isnan(b->threshold) && isnan(b->quantiles[0]));

	packed = malloc(ae_infer_packed_size(&m) * sizeof(float));
	scratch = malloc(ae_infer_scratch_size(&m) * sizeof(float));
	z = malloc(d * sizeof(float));
	out = malloc(d * sizeof(float));
	CHECK(packed && scratch && z && out);
	ae_infer_pack(&m, packed);
	if (ae_infer_normalize(b->feature_mean, b->norm_offset, b->norm_scale, z, d))
	{
		ae_infer_row(&m, packed, 0, m.n_layers, z, out, scratch);
		(void) ae_infer_sq_diff_sum(z, out, d);
	}
	free(packed);
	free(scratch);
	free(z);
	free(out);
}

/* Written and read back: the same model. */
static void
RoundTrip(const AeBundle *b)
{
	uint8_t    *buf;
	size_t		len;
	AeBundle	again;
	AeOnnxProblem problem;
	char		err[AE_ERRBUF_SIZE];
	int			d = b->arch.n_inputs;

	CHECK(ae_onnx_write(b, "fuzz", "0", &counting, &buf, &len, err) == AE_OK);
	CHECK(ae_onnx_read(buf, len, -1, &again, &counting, &problem, err) == AE_OK);
	CHECK(memcmp(&again.arch, &b->arch, sizeof(AeArch)) == 0);
	CHECK(memcmp(again.params, b->params, ae_arch_param_count(&b->arch) * sizeof(float)) == 0);
	CHECK(memcmp(again.norm_offset, b->norm_offset, d * sizeof(float)) == 0);
	CHECK(memcmp(again.norm_scale, b->norm_scale, d * sizeof(float)) == 0);
	ae_bundle_free(&again, &counting);
	ae_free(&counting, buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t    *copy;
	AeBundle	b;
	AeOnnxProblem problem;
	char		err[AE_ERRBUF_SIZE];
	AeStatus	st;

	/* an exact-size copy: a read one byte past the end is an ASan report */
	copy = malloc(size > 0 ? size : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);

	live_blocks = 0;
	memset(&b, 0xA5, sizeof(b));
	err[0] = '\0';
	st = ae_onnx_read(copy, size, -1, &b, &counting, &problem, err);
	if (st != AE_OK)
	{
		CHECK(st == AE_ERR_FORMAT);
		CHECK(problem != AE_ONNX_OK);
		CHECK(err[0] != '\0' && memchr(err, '\0', AE_ERRBUF_SIZE) != NULL);
		CHECK(AllZero(&b, sizeof(b)));
	}
	else
	{
		CHECK(problem == AE_ONNX_OK);
		ScoreOneRow(&b);
		RoundTrip(&b);
		ae_bundle_free(&b, &counting);
	}
	CHECK(live_blocks == 0);
	free(copy);
	return 0;
}
