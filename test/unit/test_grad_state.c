/*
 * test_grad_state.c — the partial states of a sharded training: a round
 * trip, and every corruption a transfer could bring refused (each single
 * byte changed, every truncation, counts that lie, non-finite numbers).
 */
#include <stdlib.h>
#include <string.h>

#include "ae_bundle.h"
#include "ae_grad_state.h"
#include "unit.h"

static const int32_t Ints[3] = {7, -2, 40000};
static const double Doubles[2] = {1.5, -1e300};
static const float Floats[4] = {0.25f, -3.0f, 1e-30f, 65504.0f};

static unsigned char *
Sample(size_t *len)
{
	unsigned char *buf;

	*len = ae_grad_state_size(3, 2, 4);
	buf = malloc(*len);
	ae_grad_state_write(buf, AE_GS_GRADIENT, UINT64_C(0x1234567890abcdef), 3, 17, 1024,
						Ints, 3, Doubles, 2, Floats, 4);
	return buf;
}

static void
TestRoundTrip(void)
{
	size_t		len;
	unsigned char *buf = Sample(&len);
	AeGradState gs;
	char		err[AE_ERRBUF_SIZE] = "";
	float		f[4];
	AeStatus	st = ae_grad_state_parse(buf, len, &gs, err);

	unit_ok(st == AE_OK, "a written state parses (%s)", err);
	unit_ok(len == AE_GS_HEADER + 12 + 16 + 16, "size is header + arrays (%zu)", len);
	unit_ok(gs.kind == AE_GS_GRADIENT && gs.snapshot == UINT64_C(0x1234567890abcdef) &&
			gs.epoch == 3 && gs.batch == 17 && gs.rows == 1024, "header fields survive");
	unit_ok(ae_grad_state_int(&gs, 0) == 7 && ae_grad_state_int(&gs, 1) == -2 &&
			ae_grad_state_int(&gs, 2) == 40000, "ints survive");
	unit_ok(ae_grad_state_double(&gs, 0) == 1.5 && ae_grad_state_double(&gs, 1) == -1e300,
			"doubles survive bit for bit");
	ae_grad_state_floats(&gs, f);
	unit_ok(memcmp(f, Floats, sizeof(f)) == 0, "floats survive bit for bit");
	{
		/* floats computed where the state keeps them: the same bytes, no copy */
		unsigned char *b2 = malloc(len);
		float	   *at = ae_grad_state_floats_in_place(b2, 3, 2);

		if (at)
		{
			memcpy(at, Floats, sizeof(Floats));
			ae_grad_state_write(b2, AE_GS_GRADIENT, UINT64_C(0x1234567890abcdef), 3, 17, 1024,
								Ints, 3, Doubles, 2, at, 4);
			unit_ok(memcmp(b2, buf, len) == 0, "a state written in place has the same bytes");
		}
		else
			unit_ok(1, "no in-place floats on this byte order");
		free(b2);
	}
	{
		double		sum[4] = {1, 2, 3, 4};

		ae_grad_state_add_floats(&gs, sum, false);
		unit_ok(sum[0] == 1.25 && sum[1] == -1.0 && sum[2] == 3 + (double) 1e-30f &&
				sum[3] == 65508.0, "floats add into a double sum in place");
	}
	{
		/* vectors and the tail: 23 floats added to 23 doubles, against the scalar sum */
		float		fl[23];
		double		sum[23],
					want[23];
		size_t		l2 = ae_grad_state_size(0, 0, 23);
		unsigned char *b2 = malloc(l2);
		AeGradState g2;
		int			wrong = 0;

		for (int k = 0; k < 23; k++)
		{
			fl[k] = (float) (k * 0.37 - 3.1);
			sum[k] = k * 1e-9 + 1e8;
			want[k] = sum[k] + (double) fl[k];
		}
		ae_grad_state_write(b2, AE_GS_GRADIENT, 1, 1, 1, 1, NULL, 0, NULL, 0, fl, 23);
		unit_ok(ae_grad_state_parse(b2, l2, &g2, NULL) == AE_OK, "a 23-float state parses");
		ae_grad_state_add_floats(&g2, sum, false);
		for (int k = 0; k < 23; k++)
			wrong += sum[k] != want[k];
		unit_ok(wrong == 0, "23 floats add bit for bit as one by one (%d differ)", wrong);

		/* first: the sum is set, as if added into zeros (a -0 becomes +0 either way) */
		fl[5] = -0.0f;
		ae_grad_state_write(b2, AE_GS_GRADIENT, 1, 1, 1, 1, NULL, 0, NULL, 0, fl, 23);
		unit_ok(ae_grad_state_parse(b2, l2, &g2, NULL) == AE_OK, "the state parses again");
		for (int k = 0; k < 23; k++)
			sum[k] = 12345.0;
		ae_grad_state_add_floats(&g2, sum, true);
		wrong = 0;
		for (int k = 0; k < 23; k++)
		{
			double		z = 0.0;

			z += fl[k];
			wrong += memcmp(&sum[k], &z, sizeof(z)) != 0;
		}
		unit_ok(wrong == 0, "a first answer sets the sum bit for bit as adding into zeros (%d differ)", wrong);
		{
			/* the mean: 23 quotients, vectors and tail, against one division at a time */
			float		mean[23];
			int			off = 0;

			for (int k = 0; k < 23; k++)
				sum[k] = (k - 11) * 1234.5678901 + 1e-7 * k;
			ae_grad_mean_floats(sum, 23, 7.0, mean);
			for (int k = 0; k < 23; k++)
				off += mean[k] != (float) (sum[k] / 7.0);
			unit_ok(off == 0, "the mean of 23 sums is the one-by-one quotient (%d differ)", off);
		}
		free(b2);
	}
	free(buf);
}

static void
TestCorruption(void)
{
	size_t		len;
	unsigned char *buf = Sample(&len);
	AeGradState gs;
	int			passed = 0;
	int			truncated = 0;

	for (size_t i = 0; i < len; i++)
	{
		for (int bit = 0; bit < 8; bit++)
		{
			buf[i] ^= (unsigned char) (1u << bit);
			if (ae_grad_state_parse(buf, len, &gs, NULL) == AE_OK)
				passed++;
			buf[i] ^= (unsigned char) (1u << bit);
		}
	}
	unit_ok(passed == 0, "every single-bit flip is refused (%d of %zu passed)", passed, len * 8);
	for (size_t l = 0; l < len; l++)
		if (ae_grad_state_parse(buf, l, &gs, NULL) == AE_OK)
			truncated++;
	unit_ok(truncated == 0, "every truncation is refused");
	unit_ok(ae_grad_state_parse(NULL, 0, &gs, NULL) == AE_ERR_FORMAT, "NULL is refused");
	{
		/* the kinds: the last known one parses, the next one (CRC and all valid) does not */
		char		err[AE_ERRBUF_SIZE] = "";

		ae_grad_state_write(buf, AE_GS_CODE, 1, 1, 1, 1, Ints, 3, Doubles, 2, Floats, 4);
		unit_ok(ae_grad_state_parse(buf, len, &gs, NULL) == AE_OK && gs.kind == AE_GS_CODE,
				"a state of the last kind (code sums) parses");
		ae_grad_state_write(buf, (AeGradStateKind) (AE_GS_CODE + 1), 1, 1, 1, 1, Ints, 3, Doubles, 2,
							Floats, 4);
		unit_ok(ae_grad_state_parse(buf, len, &gs, err) == AE_ERR_FORMAT && strstr(err, "kind"),
				"a state of an unknown kind is refused: %s", err);
	}
	free(buf);
}

static void
TestLyingCounts(void)
{
	size_t		len;
	unsigned char *buf = Sample(&len);
	AeGradState gs;
	char		err[AE_ERRBUF_SIZE];

	/* a count that would size a 16 GiB read, with a CRC that matches it */
	{
		unsigned char *big = malloc(len);
		uint32_t	huge = 0xFFFFFFF0u;

		memcpy(big, buf, len);
		memcpy(big + 48, &huge, 4);
		unit_ok(ae_grad_state_parse(big, len, &gs, err) == AE_ERR_FORMAT &&
				strstr(err, "counts") != NULL, "a huge count is refused before use: %s", err);
		free(big);
	}
	/* non-finite numbers written by a buggy or hostile peer, with a valid CRC */
	{
		float		bad[4] = {0, 0, 0, 0};
		double		d[2] = {0, 0};

		bad[2] = Floats[0] / 0.0f;
		ae_grad_state_write(buf, AE_GS_GRADIENT, 1, 1, 1, 1, Ints, 3, d, 2, bad, 4);
		unit_ok(ae_grad_state_parse(buf, len, &gs, err) == AE_ERR_FORMAT,
				"an infinite float is refused: %s", err);
		bad[2] = 0;
		d[1] = bad[2] / bad[2];
		ae_grad_state_write(buf, AE_GS_GRADIENT, 1, 1, 1, 1, Ints, 3, d, 2, bad, 4);
		unit_ok(ae_grad_state_parse(buf, len, &gs, err) == AE_ERR_FORMAT,
				"a NaN double is refused: %s", err);
		/* the vector check: a NaN or an infinity at every place of a longer array */
		{
			enum
			{
				N = 61
			};
			float		many[N] = {0};
			size_t		mlen = ae_grad_state_size(0, 2, N);
			unsigned char *mbuf = malloc(mlen);
			int			passed = 0;

			d[1] = 0;
			for (int k = 0; k < N; k++)
				for (int kind = 0; kind < 2; kind++)
				{
					many[k] = kind ? 1.0f / bad[0] : bad[0] / bad[0];	/* inf, NaN */
					ae_grad_state_write(mbuf, AE_GS_GRADIENT, 1, 1, 1, 1, NULL, 0, d, 2, many, N);
					passed += ae_grad_state_parse(mbuf, mlen, &gs, NULL) == AE_OK;
					many[k] = 0;
				}
			ae_grad_state_write(mbuf, AE_GS_GRADIENT, 1, 1, 1, 1, NULL, 0, d, 2, many, N);
			unit_ok(passed == 0 && ae_grad_state_parse(mbuf, mlen, &gs, NULL) == AE_OK,
					"a NaN or infinity anywhere in %d floats is refused, none passes (%d passed)",
					N, passed);
			free(mbuf);
		}
		ae_grad_state_write(buf, AE_GS_GRADIENT, 1, 1, 1, -5, Ints, 3, Doubles, 2, Floats, 4);
		unit_ok(ae_grad_state_parse(buf, len, &gs, err) == AE_ERR_FORMAT,
				"a negative row count is refused: %s", err);
	}
	free(buf);
}

static void
TestArch(void)
{
	AeArch		arch,
				back;
	AeLoss		loss;
	int			hidden[3] = {16, 4, 16};
	int32_t		ints[AE_GS_ARCH_INTS(3)];
	size_t		len = ae_grad_state_size(AE_GS_ARCH_INTS(3), 1, 0);
	unsigned char *buf = malloc(len);
	double		l1 = 0.5;
	AeGradState gs;
	char		err[AE_ERRBUF_SIZE] = "";

	ae_arch_make(&arch, 32, 3, hidden, AE_ACT_RELU, AE_ACT_SIGMOID, false);
	ae_grad_state_arch_ints(&arch, AE_LOSS_BCE, ints);
	ae_grad_state_write(buf, AE_GS_WEIGHTS, 9, 0, 0, 0, ints, AE_GS_ARCH_INTS(3), &l1, 1, NULL, 0);
	unit_ok(ae_grad_state_parse(buf, len, &gs, err) == AE_OK &&
			ae_grad_state_arch(&gs, &back, &loss, err) == AE_OK, "architecture round trip (%s)", err);
	unit_ok(back.n_inputs == 32 && back.n_hidden == 3 && back.hidden[1] == 4 &&
			back.hidden_act[2] == AE_ACT_RELU && back.output_act == AE_ACT_SIGMOID &&
			back.code_layer == arch.code_layer && !back.tied && loss == AE_LOSS_BCE,
			"architecture fields survive");
	ints[1] = 99;
	ae_grad_state_write(buf, AE_GS_WEIGHTS, 9, 0, 0, 0, ints, AE_GS_ARCH_INTS(3), &l1, 1, NULL, 0);
	unit_ok(ae_grad_state_parse(buf, len, &gs, err) == AE_OK &&
			ae_grad_state_arch(&gs, &back, &loss, err) == AE_ERR_FORMAT,
			"a layer count that disagrees with the ints is refused: %s", err);
	ints[1] = 3;
	ints[3] = 0;
	ae_grad_state_write(buf, AE_GS_WEIGHTS, 9, 0, 0, 0, ints, AE_GS_ARCH_INTS(3), &l1, 1, NULL, 0);
	unit_ok(ae_grad_state_parse(buf, len, &gs, err) == AE_OK &&
			ae_grad_state_arch(&gs, &back, &loss, err) == AE_ERR_FORMAT,
			"a zero-width layer is refused: %s", err);
	free(buf);
}

/* CRC-32C bit by bit (reflected 0x82F63B78), to check the fast paths against */
static uint32_t
CrcBitwise(const unsigned char *p, size_t len)
{
	uint32_t	crc = 0xFFFFFFFFu;

	while (len--)
	{
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
	}
	return crc ^ 0xFFFFFFFFu;
}

static void
TestCrc(void)
{
	size_t		n = 1 << 20;
	unsigned char *buf = malloc(n + 16);
	AeRng		rng;
	int			bad = 0;

	ae_rng_seed(&rng, 5);
	for (size_t i = 0; i < n + 16; i++)
		buf[i] = (unsigned char) ae_rng_next(&rng);
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len < 70; len++)
			bad += ae_crc32c(buf + off, len) != CrcBitwise(buf + off, len) ? 1 : 0;
	unit_ok(bad == 0, "CRC-32C equals the bitwise reference at every offset and short length");
	/* from 64 KiB on the buffer runs in three streams: every remainder of 24 and its edges */
	bad = 0;
	for (size_t len = 65536 - 30; len < 65536 + 60; len++)
		bad += ae_crc32c(buf + (len & 7), len) != CrcBitwise(buf + (len & 7), len) ? 1 : 0;
	unit_ok(bad == 0, "CRC-32C equals the bitwise reference around the three-stream length");
	unit_ok(ae_crc32c(buf + 3, n) == CrcBitwise(buf + 3, n) ? 1 : 0, "CRC-32C of 1 MiB equals the bitwise reference");
	free(buf);
}

int
main(void)
{
	TestCrc();
	TestRoundTrip();
	TestCorruption();
	TestLyingCounts();
	TestArch();
	return unit_done();
}
