/*
 * fuzz_bundle.c — libFuzzer harness for the model bundle reader
 * (ae_bundle_deserialize), built with ASan and UBSan.
 *
 * Each input is parsed twice: as it is (the header checks see it), and with
 * its header's payload length and CRC-32C recomputed, so that mutations
 * reach the payload sections instead of dying at the checksum.  For each
 * parse the harness checks what ae_bundle.h promises:
 *   - a refusal is AE_ERR_FORMAT with a message, leaves *bundle zeroed and
 *     nothing allocated;
 *   - an accepted bundle serialises back to exactly the bytes it came from,
 *     passes ae_arch_validate and ae_model_bind, has finite parameters and
 *     non-zero scales, and can be scored: one row (the training mean)
 *     through the fused kernel, as ae_error does;
 *   - ae_bundle_free releases every block.
 * A broken promise aborts, which libFuzzer reports as a crash with the
 * input saved.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ae_bundle.h"
#include "ae_infer.h"
#include "counting_alloc.h"
#include "fuzz_check.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Score the training mean, as ae_error, ae_encode and ae_decode would. */
static void
ScoreOneRow(AeBundle *b)
{
	AeModel		m;
	char		err[AE_ERRBUF_SIZE];
	int			d = b->arch.n_inputs;
	int			c = b->arch.code_layer + 1; /* weight layers [0, c) encode */
	float	   *packed,
			   *scratch,
			   *z,
			   *code,
			   *out;

	CHECK(ae_arch_validate(&b->arch, err) == AE_OK);
	CHECK(ae_model_bind(&m, &b->arch, b->params, err) == AE_OK);
	CHECK(m.dims[0] == d && m.dims[m.n_layers] == d);
	for (size_t i = 0; i < m.n_params; i++)
		CHECK(isfinite(b->params[i]));
	for (int j = 0; j < d; j++)
		CHECK(isfinite(b->norm_offset[j]) && isfinite(b->norm_scale[j]) &&
			  b->norm_scale[j] != 0.0f && isfinite(b->feature_mean[j]));

	/* exact sizes: ASan catches a kernel that reads past any of them */
	packed = malloc(ae_infer_packed_size(&m) * sizeof(float));
	scratch = malloc(ae_infer_scratch_size(&m) * sizeof(float));
	z = malloc(d * sizeof(float));
	code = malloc(m.dims[c] * sizeof(float));
	out = malloc(d * sizeof(float));
	CHECK(packed && scratch && z && code && out);
	ae_infer_pack(&m, packed);
	if (ae_infer_normalize(b->feature_mean, b->norm_offset, b->norm_scale, z, d))
	{
		double		sq;

		ae_infer_row(&m, packed, 0, m.n_layers, z, out, scratch);
		sq = ae_infer_sq_diff_sum(z, out, d);
		(void) sq;
		ae_infer_row(&m, packed, 0, c, z, code, scratch);
		ae_infer_row(&m, packed, c, m.n_layers, code, out, scratch);
	}
	free(packed);
	free(scratch);
	free(z);
	free(code);
	free(out);
}

static void
Check(const uint8_t *buf, size_t len)
{
	AeBundle	b;
	char		err[AE_ERRBUF_SIZE];
	AeStatus	st;

	live_blocks = 0;
	memset(&b, 0xA5, sizeof(b));
	st = ae_bundle_deserialize(buf, len, &b, &counting, err);
	if (st != AE_OK)
	{
		CHECK(st == AE_ERR_FORMAT);
		CHECK(err[0] != '\0' && memchr(err, '\0', AE_ERRBUF_SIZE) != NULL);
		CHECK(AllZero(&b, sizeof(b)));
		CHECK(live_blocks == 0);
		return;
	}

	/* the writer reproduces the input byte for byte */
	{
		size_t		n = ae_bundle_serialized_size(&b);
		uint8_t    *again;

		CHECK(n == len);
		again = malloc(n);
		CHECK(again != NULL);
		ae_bundle_serialize(&b, again);
		CHECK(memcmp(again, buf, n) == 0);
		free(again);
	}
	ScoreOneRow(&b);
	ae_bundle_free(&b, &counting);
	CHECK(live_blocks == 0);
}

static void
PutU32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t) (v >> (8 * i));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t    *copy;

	/* an exact-size copy: a read one byte past the end is an ASan report */
	copy = malloc(size > 0 ? size : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	Check(copy, size);

	if (size >= AE_BUNDLE_HEADER_SIZE && memcmp(copy, AE_BUNDLE_MAGIC, 4) == 0)
	{
		PutU32(copy + 8, (uint32_t) (size - AE_BUNDLE_HEADER_SIZE));
		PutU32(copy + 12, ae_crc32c(copy + AE_BUNDLE_HEADER_SIZE, size - AE_BUNDLE_HEADER_SIZE));
		Check(copy, size);
	}
	free(copy);
	return 0;
}
