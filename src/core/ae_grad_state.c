/*
 * ae_grad_state.c — writing and checking the partial states of a sharded
 * training (format in ae_grad_state.h).
 *
 * A state comes from another server, so it is hostile until checked: the
 * counts are compared with the length before any array is touched, and
 * nothing is sized from a count that did not pass.
 */
#include <stdio.h>

#include "ae_bundle.h"
#include "ae_grad_state.h"
#include "ae_simd.h"

/* four doubles: a float vector widened (two SSE registers; used inline only) */
typedef double AeGsVd4 __attribute__((vector_size(32)));

/*
 * The format is little-endian; on a little-endian host the arrays are
 * copied as they are (a step moves megabytes), elsewhere byte by byte.
 */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define AE_GS_NATIVE 1
#else
#define AE_GS_NATIVE 0
#endif

static void
PutU32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char) (v >> (8 * i));
}

static void
PutU64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char) (v >> (8 * i));
}

static uint32_t
GetU32(const unsigned char *p)
{
	uint32_t	v = 0;

	for (int i = 0; i < 4; i++)
		v |= (uint32_t) p[i] << (8 * i);
	return v;
}

static uint64_t
GetU64(const unsigned char *p)
{
	uint64_t	v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t) p[i] << (8 * i);
	return v;
}

/*
 * The CRC covers the whole state but the CRC itself: the first 12 bytes and
 * the rest, combined, so that no single changed byte anywhere passes.
 */
static uint32_t
StateCrc(const unsigned char *buf, size_t len)
{
	return ae_crc32c(buf, 12) ^ ae_crc32c(buf + 16, len - 16);
}

const char *
ae_grad_state_kind_name(AeGradStateKind kind)
{
	static const char *const names[] = {
		[AE_GS_WEIGHTS] = "weights",
		[AE_GS_GRADIENT] = "gradient",
		[AE_GS_EVAL] = "evaluation",
		[AE_GS_STATS] = "statistics",
		[AE_GS_CODE] = "code",
	};

	return kind >= AE_GS_WEIGHTS && kind <= AE_GS_CODE ? names[kind] : "unknown";
}

size_t
ae_grad_state_size(uint32_t n_ints, uint32_t n_doubles, uint32_t n_floats)
{
	if (n_ints > AE_GS_MAX_COUNT || n_doubles > AE_GS_MAX_COUNT || n_floats > AE_GS_MAX_COUNT)
		return 0;
	return AE_GS_HEADER + 4 * (size_t) n_ints + 8 * (size_t) n_doubles + 4 * (size_t) n_floats;
}

float *
ae_grad_state_floats_in_place(unsigned char *out, uint32_t n_ints, uint32_t n_doubles)
{
	if (!AE_GS_NATIVE)
		return NULL;
	return (float *) (out + AE_GS_HEADER + 4 * (size_t) n_ints + 8 * (size_t) n_doubles);
}

void
ae_grad_state_write(unsigned char *out, AeGradStateKind kind, uint64_t snapshot,
					int32_t epoch, int32_t batch, int64_t rows,
					const int32_t *ints, uint32_t n_ints,
					const double *doubles, uint32_t n_doubles,
					const float *floats, uint32_t n_floats)
{
	size_t		len = ae_grad_state_size(n_ints, n_doubles, n_floats);
	unsigned char *p = out + AE_GS_HEADER;

	PutU32(out, AE_GS_MAGIC);
	out[4] = AE_GS_VERSION & 0xFF;
	out[5] = AE_GS_VERSION >> 8;
	out[6] = (unsigned char) kind;
	out[7] = 0;
	PutU32(out + 8, (uint32_t) len);
	PutU64(out + 16, snapshot);
	PutU32(out + 24, (uint32_t) epoch);
	PutU32(out + 28, (uint32_t) batch);
	PutU64(out + 32, (uint64_t) rows);
	PutU32(out + 40, n_ints);
	PutU32(out + 44, n_doubles);
	PutU32(out + 48, n_floats);
	PutU32(out + 52, 0);
	for (uint32_t i = 0; i < n_ints; i++, p += 4)
		PutU32(p, (uint32_t) ints[i]);
	for (uint32_t i = 0; i < n_doubles; i++, p += 8)
	{
		uint64_t	bits;

		memcpy(&bits, &doubles[i], 8);
		PutU64(p, bits);
	}
	if (AE_GS_NATIVE && n_floats > 0)
	{
		/* floats computed in place (ae_grad_state_floats_in_place) are there already */
		if ((const unsigned char *) floats != p)
			memcpy(p, floats, 4 * (size_t) n_floats);
	}
	else
	{
		for (uint32_t i = 0; i < n_floats; i++, p += 4)
		{
			uint32_t	bits;

			memcpy(&bits, &floats[i], 4);
			PutU32(p, bits);
		}
	}
	PutU32(out + 12, StateCrc(out, len));
}

static AeStatus
Fault(char *errbuf, const char *msg)
{
	if (errbuf)
		snprintf(errbuf, AE_ERRBUF_SIZE, "%s", msg);
	return AE_ERR_FORMAT;
}

AeStatus
ae_grad_state_parse(const unsigned char *buf, size_t len, AeGradState *gs, char *errbuf)
{
	uint32_t	stated;
	unsigned	version;
	unsigned	kind;
	size_t		need;

	if (buf == NULL || len < AE_GS_HEADER)
		return Fault(errbuf, "partial state shorter than its header");
	if (GetU32(buf) != AE_GS_MAGIC)
		return Fault(errbuf, "not a partial state (bad magic number)");
	version = buf[4] | (buf[5] << 8);
	if (version != AE_GS_VERSION)
	{
		if (errbuf)
			snprintf(errbuf, AE_ERRBUF_SIZE, "partial state format version %u is not supported (this build reads %d)",
					 version, AE_GS_VERSION);
		return AE_ERR_FORMAT;
	}
	kind = buf[6] | (buf[7] << 8);
	if (kind < AE_GS_WEIGHTS || kind > AE_GS_CODE)
		return Fault(errbuf, "partial state of an unknown kind");
	stated = GetU32(buf + 8);
	if (stated != len)
		return Fault(errbuf, "partial state length does not match its header (truncated or padded)");
	gs->n_ints = GetU32(buf + 40);
	gs->n_doubles = GetU32(buf + 44);
	gs->n_floats = GetU32(buf + 48);
	need = ae_grad_state_size(gs->n_ints, gs->n_doubles, gs->n_floats);
	if (need == 0 || need != len)
		return Fault(errbuf, "partial state array counts do not match its length");
	if (GetU32(buf + 52) != 0)
		return Fault(errbuf, "partial state reserved header word is not zero");
	if (GetU32(buf + 12) != StateCrc(buf, len))
		return Fault(errbuf, "partial state checksum mismatch");

	gs->kind = (AeGradStateKind) kind;
	gs->snapshot = GetU64(buf + 16);
	gs->epoch = (int32_t) GetU32(buf + 24);
	gs->batch = (int32_t) GetU32(buf + 28);
	gs->rows = (int64_t) GetU64(buf + 32);
	gs->ints = (const int32_t *) (buf + AE_GS_HEADER);
	gs->doubles_raw = buf + AE_GS_HEADER + 4 * (size_t) gs->n_ints;
	gs->floats_raw = gs->doubles_raw + 8 * (size_t) gs->n_doubles;
	if (gs->rows < 0)
		return Fault(errbuf, "partial state has a negative row count");
	for (uint32_t i = 0; i < gs->n_doubles; i++)
	{
		double		v = ae_grad_state_double(gs, i);

		if (!(v - v == 0.0))
			return Fault(errbuf, "partial state holds a non-finite number");
	}
	{
		const unsigned char *f = gs->floats_raw;
		uint32_t	bad = 0;

		/* a coordinator checks megabytes a step: the vector test where the floats are floats */
		if (AE_GS_NATIVE && (uintptr_t) f % sizeof(float) == 0)
			bad = !ae_all_finite((const float *) (const void *) f, gs->n_floats);
		else
			for (uint32_t i = 0; i < gs->n_floats; i++)
			{
				uint32_t	bits;

				if (AE_GS_NATIVE)
					memcpy(&bits, f + 4 * (size_t) i, 4);
				else
					bits = GetU32(f + 4 * (size_t) i);
				bad |= ae_float_bits_nonfinite(bits);
			}
		if (bad)
			return Fault(errbuf, "partial state holds a non-finite number");
	}
	return AE_OK;
}

int32_t
ae_grad_state_int(const AeGradState *gs, uint32_t i)
{
	return (int32_t) GetU32((const unsigned char *) gs->ints + 4 * (size_t) i);
}

double
ae_grad_state_double(const AeGradState *gs, uint32_t i)
{
	uint64_t	bits = GetU64(gs->doubles_raw + 8 * (size_t) i);
	double		v;

	memcpy(&v, &bits, 8);
	return v;
}

void
ae_grad_state_add_floats(const AeGradState *gs, double *sum, bool first)
{
	uint32_t	i = 0;
	const AeGsVd4 zero = {0, 0, 0, 0};

	/* straight from the buffer, four at a time: no copy of megabytes on the coordinator's serial path */
	if (AE_GS_NATIVE)
		for (; i + 4 <= gs->n_floats; i += 4)
		{
			AeVf4		v = AeLoad4((const float *) (const void *) (gs->floats_raw + 4 * (size_t) i));
			AeGsVd4		acc;

			/* 0 + v, not v: the same bits as adding into a zeroed sum (-0 becomes +0) */
			if (first)
				acc = zero;
			else
				memcpy(&acc, sum + i, sizeof(acc));
			acc += __builtin_convertvector(v, AeGsVd4);
			memcpy(sum + i, &acc, sizeof(acc));
		}
	for (; i < gs->n_floats; i++)
	{
		uint32_t	bits;
		float		v;

		if (AE_GS_NATIVE)
			memcpy(&bits, gs->floats_raw + 4 * (size_t) i, 4);
		else
			bits = GetU32(gs->floats_raw + 4 * (size_t) i);
		memcpy(&v, &bits, 4);
		sum[i] = (first ? 0.0 : sum[i]) + v;
	}
}

void
ae_grad_mean_floats(const double *sum, size_t n, double rows, float *out)
{
	size_t		i = 0;
	const AeGsVd4 r = {rows, rows, rows, rows};

	/* a division, not a product by 1/rows: the same bits as one element at a time */
	for (; i + 4 <= n; i += 4)
	{
		AeGsVd4		v;
		AeVf4		f;

		memcpy(&v, sum + i, sizeof(v));
		f = __builtin_convertvector(v / r, AeVf4);
		memcpy(out + i, &f, sizeof(f));
	}
	for (; i < n; i++)
		out[i] = (float) (sum[i] / rows);
}

void
ae_grad_state_floats(const AeGradState *gs, float *out)
{
	if (AE_GS_NATIVE)
	{
		if (gs->n_floats > 0)
			memcpy(out, gs->floats_raw, 4 * (size_t) gs->n_floats);
		return;
	}
	for (uint32_t i = 0; i < gs->n_floats; i++)
	{
		uint32_t	bits = GetU32(gs->floats_raw + 4 * (size_t) i);

		memcpy(&out[i], &bits, 4);
	}
}

void
ae_grad_state_arch_ints(const AeArch *arch, AeLoss loss, int32_t *ints)
{
	int			k = arch->n_hidden;

	ints[0] = arch->n_inputs;
	ints[1] = k;
	for (int i = 0; i < k; i++)
	{
		ints[2 + i] = arch->hidden[i];
		ints[2 + k + i] = (int32_t) arch->hidden_act[i];
	}
	ints[2 + 2 * k] = (int32_t) arch->output_act;
	ints[3 + 2 * k] = arch->code_layer;
	ints[4 + 2 * k] = arch->tied ? 1 : 0;
	ints[5 + 2 * k] = (int32_t) loss;
}

AeStatus
ae_grad_state_arch(const AeGradState *gs, AeArch *arch, AeLoss *loss, char *errbuf)
{
	int32_t		k;
	int32_t		v;

	if (gs->n_ints < 2)
		return Fault(errbuf, "weights snapshot without an architecture");
	k = ae_grad_state_int(gs, 1);
	if (k < 1 || k > AE_MAX_HIDDEN || gs->n_ints != (uint32_t) AE_GS_ARCH_INTS(k))
		return Fault(errbuf, "weights snapshot with a malformed architecture");
	memset(arch, 0, sizeof(*arch));
	arch->n_inputs = ae_grad_state_int(gs, 0);
	arch->n_hidden = k;
	for (int i = 0; i < k; i++)
	{
		arch->hidden[i] = ae_grad_state_int(gs, 2 + i);
		v = ae_grad_state_int(gs, 2 + k + i);
		if (v < AE_ACT_LINEAR || v > AE_ACT_ELU)
			return Fault(errbuf, "weights snapshot with an unknown activation");
		arch->hidden_act[i] = (AeActivation) v;
	}
	v = ae_grad_state_int(gs, 2 + 2 * k);
	if (v < AE_ACT_LINEAR || v > AE_ACT_ELU)
		return Fault(errbuf, "weights snapshot with an unknown activation");
	arch->output_act = (AeActivation) v;
	arch->code_layer = ae_grad_state_int(gs, 3 + 2 * k);
	v = ae_grad_state_int(gs, 4 + 2 * k);
	if (v != 0 && v != 1)
		return Fault(errbuf, "weights snapshot with a malformed architecture");
	arch->tied = v == 1;
	v = ae_grad_state_int(gs, 5 + 2 * k);
	if (v != AE_LOSS_MSE && v != AE_LOSS_BCE)
		return Fault(errbuf, "weights snapshot with an unknown loss");
	*loss = (AeLoss) v;
	if (ae_arch_validate(arch, errbuf) != AE_OK)
		return AE_ERR_FORMAT;
	return AE_OK;
}
