/*
 * ae_bundle.c — the model bundle's binary format: writer, defensive reader,
 * CRC-32C.
 *
 * Payload, format version 1 (u = unsigned, i = signed, f = IEEE float; all
 * little-endian; see doc/how-it-works.md):
 *
 *   architecture  u32 n_inputs, u32 n_hidden, u32 code_layer,
 *                 u32 output_activation, u32 tied (0/1),
 *                 n_hidden × (u32 width, u32 activation)
 *   parameters    u64 n_params (= ae_arch_param_count), n_params × f32
 *   normalisation u32 method, n_inputs × f32 offset, n_inputs × f32 scale,
 *                 n_inputs × f32 feature_mean
 *   threshold     f64 contamination, f64 threshold, u32 n_quantiles (101),
 *                 n_quantiles × f64
 *   training      i64 n_rows, i32 epochs_run, f64 train_loss, f64 val_loss,
 *                 u32 n_history, n_history × (i32 epoch, f64 train_loss,
 *                 f64 val_loss, f64 seconds)
 *   config        u32 length, length bytes of JSON text (0: none)
 *   columns       u32 n_columns, u32 length, length bytes (n_columns
 *                 NUL-terminated names)
 *
 * Format version 2 appends (mixed-type models, ae_groups.h):
 *   groups        u32 n_plain, u32 n_groups, n_groups × u32 width (the
 *                 groups tile the inputs from n_plain on, in order), then
 *                 (n_plain + n_groups) × f32 slot weight (both counts 0:
 *                 no slots, a numeric model)
 *   encoding      u32 length, length bytes of JSON text (0: none)
 *
 * The reader never trusts a length before checking that the bytes it
 * announces are present, so a hostile or truncated buffer can neither make it
 * read outside buf nor allocate more than a small multiple of len.
 */
#include "ae_bundle.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------------- CRC-32C */

/* Reflected polynomial 0x82F63B78, one byte at a time. */
static const uint32_t Crc32cTable[256] = {
	0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4, 0xc79a971f, 0x35f1141c,
	0x26a1e7e8, 0xd4ca64eb, 0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b,
	0x4d43cfd0, 0xbf284cd3, 0xac78bf27, 0x5e133c24, 0x105ec76f, 0xe235446c,
	0xf165b798, 0x030e349b, 0xd7c45070, 0x25afd373, 0x36ff2087, 0xc494a384,
	0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54, 0x5d1d08bf, 0xaf768bbc,
	0xbc267848, 0x4e4dfb4b, 0x20bd8ede, 0xd2d60ddd, 0xc186fe29, 0x33ed7d2a,
	0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35, 0xaa64d611, 0x580f5512,
	0x4b5fa6e6, 0xb93425e5, 0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa,
	0x30e349b1, 0xc288cab2, 0xd1d83946, 0x23b3ba45, 0xf779deae, 0x05125dad,
	0x1642ae59, 0xe4292d5a, 0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a,
	0x7da08661, 0x8fcb0562, 0x9c9bf696, 0x6ef07595, 0x417b1dbc, 0xb3109ebf,
	0xa0406d4b, 0x522bee48, 0x86e18aa3, 0x748a09a0, 0x67dafa54, 0x95b17957,
	0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687, 0x0c38d26c, 0xfe53516f,
	0xed03a29b, 0x1f682198, 0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927,
	0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38, 0xdbfc821c, 0x2997011f,
	0x3ac7f2eb, 0xc8ac71e8, 0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7,
	0x61c69362, 0x93ad1061, 0x80fde395, 0x72966096, 0xa65c047d, 0x5437877e,
	0x4767748a, 0xb50cf789, 0xeb1fcbad, 0x197448ae, 0x0a24bb5a, 0xf84f3859,
	0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46, 0x7198540d, 0x83f3d70e,
	0x90a324fa, 0x62c8a7f9, 0xb602c312, 0x44694011, 0x5739b3e5, 0xa55230e6,
	0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36, 0x3cdb9bdd, 0xceb018de,
	0xdde0eb2a, 0x2f8b6829, 0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c,
	0x456cac67, 0xb7072f64, 0xa457dc90, 0x563c5f93, 0x082f63b7, 0xfa44e0b4,
	0xe9141340, 0x1b7f9043, 0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c,
	0x92a8fc17, 0x60c37f14, 0x73938ce0, 0x81f80fe3, 0x55326b08, 0xa759e80b,
	0xb4091bff, 0x466298fc, 0x1871a4d8, 0xea1a27db, 0xf94ad42f, 0x0b21572c,
	0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033, 0xa24bb5a6, 0x502036a5,
	0x4370c551, 0xb11b4652, 0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
	0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d, 0xef087a76, 0x1d63f975,
	0x0e330a81, 0xfc588982, 0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d,
	0x758fe5d6, 0x87e466d5, 0x94b49521, 0x66df1622, 0x38cc2a06, 0xcaa7a905,
	0xd9f75af1, 0x2b9cd9f2, 0xff56bd19, 0x0d3d3e1a, 0x1e6dcdee, 0xec064eed,
	0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530, 0x0417b1db, 0xf67c32d8,
	0xe52cc12c, 0x1747422f, 0x49547e0b, 0xbb3ffd08, 0xa86f0efc, 0x5a048dff,
	0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0, 0xd3d3e1ab, 0x21b862a8,
	0x32e8915c, 0xc083125f, 0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540,
	0x590ab964, 0xab613a67, 0xb831c993, 0x4a5a4a90, 0x9e902e7b, 0x6cfbad78,
	0x7fab5e8c, 0x8dc0dd8f, 0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee,
	0x24aa3f05, 0xd6c1bc06, 0xc5914ff2, 0x37faccf1, 0x69e9f0d5, 0x9b8273d6,
	0x88d28022, 0x7ab90321, 0xae7367ca, 0x5c18e4c9, 0x4f48173d, 0xbd23943e,
	0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81, 0x34f4f86a, 0xc69f7b69,
	0xd5cf889d, 0x27a40b9e, 0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e,
	0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351,
};

static uint32_t
Crc32cBytes(uint32_t crc, const uint8_t *p, size_t len)
{
	while (len--)
		crc = Crc32cTable[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
	return crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/* CRC-32C's polynomial, bit-reflected (the table's entry 128) */
#define CRC32C_POLY		0x82F63B78u
/* below this the three streams' combination costs more than it saves */
#define CRC32C_3WAY_MIN (64 * 1024)

/* a · b modulo the polynomial, both bit-reflected; a must not be 0 */
static uint32_t
Crc32cMulMod(uint32_t a, uint32_t b)
{
	uint32_t	m = 1u << 31,
				p = 0;

	for (;;)
	{
		if (a & m)
		{
			p ^= b;
			if ((a & (m - 1)) == 0)
				break;
		}
		m >>= 1;
		b = (b & 1) ? (b >> 1) ^ CRC32C_POLY : b >> 1;
	}
	return p;
}

/* x^(8n) modulo the polynomial: what appending n zero bytes multiplies a CRC by */
static uint32_t
Crc32cShiftBytes(size_t n)
{
	uint32_t	result = 1u << 31,	/* x^0 */
				square = 1u << 30;	/* x^1 */

	for (uint64_t e = (uint64_t) n * 8; e; e >>= 1)
	{
		if (e & 1)
			result = Crc32cMulMod(result, square);
		square = Crc32cMulMod(square, square);
	}
	return result;
}

/*
 * SSE 4.2's crc32 instruction computes CRC-32C itself, eight bytes at a
 * time: the partial states of a sharded training checksum megabytes per
 * step, where the table costs as much as the gradient's arithmetic.  One
 * instruction waits three cycles for the one before, so a long buffer is
 * split in three streams that run side by side, and their CRCs combined:
 * the CRC of A then B is CRC(A) shifted over B's length, xor CRC(B) from 0.
 */
__attribute__((target("sse4.2")))
static uint32_t
Crc32cSse42(uint32_t crc, const uint8_t *p, size_t len)
{
	uint64_t	c = crc;

	if (len >= CRC32C_3WAY_MIN)
	{
		size_t		block = len / 24 * 8;
		const uint8_t *p1 = p + block,
				   *p2 = p + 2 * block;
		uint64_t	c1 = 0,
					c2 = 0;
		uint32_t	shift;

		for (size_t i = 0; i < block; i += 8)
		{
			uint64_t	v0,
						v1,
						v2;

			memcpy(&v0, p + i, 8);
			memcpy(&v1, p1 + i, 8);
			memcpy(&v2, p2 + i, 8);
			c = __builtin_ia32_crc32di(c, v0);
			c1 = __builtin_ia32_crc32di(c1, v1);
			c2 = __builtin_ia32_crc32di(c2, v2);
		}
		shift = Crc32cShiftBytes(block);
		c = Crc32cMulMod(shift, (uint32_t) c) ^ (uint32_t) c1;
		c = Crc32cMulMod(shift, (uint32_t) c) ^ (uint32_t) c2;
		p += 3 * block;
		len -= 3 * block;
	}
	for (; len >= 8; p += 8, len -= 8)
	{
		uint64_t	v;

		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
	}
	crc = (uint32_t) c;
	for (; len > 0; p++, len--)
		crc = __builtin_ia32_crc32qi(crc, *p);
	return crc;
}
#endif

uint32_t
ae_crc32c(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t	crc = 0xFFFFFFFFu;

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	if (__builtin_cpu_supports("sse4.2"))
		return Crc32cSse42(crc, p, len) ^ 0xFFFFFFFFu;
#endif
	return Crc32cBytes(crc, p, len) ^ 0xFFFFFFFFu;
}

/* ---------------------------------------------------------------- sizes */

#define ARCH_FIXED_BYTES	(5 * 4)
#define ARCH_LAYER_BYTES	(2 * 4)
#define HISTORY_ENTRY_BYTES (4 + 3 * 8)

/* version 1 unless the model needs what version 2 added */
static int
BundleVersion(const AeBundle *b)
{
	return ae_groups_present(&b->groups) || b->encoding_json != NULL ? 2 : 1;
}

static size_t
GroupsSize(const AeBundle *b)
{
	const AeGroups *g = &b->groups;

	return 4 + 4 + (size_t) g->n_groups * 4 + (size_t) ae_groups_slots(g) * 4;
}

static size_t
PayloadSize(const AeBundle *b)
{
	size_t		d = (size_t) b->arch.n_inputs;
	size_t		encoding_len = b->encoding_json ? strlen(b->encoding_json) : 0;
	size_t		config_len = b->config_json ? strlen(b->config_json) : 0;
	size_t		columns_len = b->n_columns > 0 ? b->columns_len : 0;

	return ARCH_FIXED_BYTES + (size_t) b->arch.n_hidden * ARCH_LAYER_BYTES
		+ 8 + ae_arch_param_count(&b->arch) * 4
		+ 4 + 3 * d * 4
		+ 8 + 8 + 4 + AE_BUNDLE_N_QUANTILES * 8
		+ 8 + 4 + 8 + 8 + 4 + (size_t) b->n_history * HISTORY_ENTRY_BYTES
		+ 4 + config_len
		+ 4 + 4 + columns_len
		+ (BundleVersion(b) >= 2 ? GroupsSize(b) + 4 + encoding_len : 0);
}

size_t
ae_bundle_serialized_size(const AeBundle *bundle)
{
	return AE_BUNDLE_HEADER_SIZE + PayloadSize(bundle);
}

/* ---------------------------------------------------------------- writer */

static inline uint8_t *
PutU16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t) v;
	p[1] = (uint8_t) (v >> 8);
	return p + 2;
}

static inline uint8_t *
PutU32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t) (v >> (8 * i));
	return p + 4;
}

static inline uint8_t *
PutU64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t) (v >> (8 * i));
	return p + 8;
}

static inline uint8_t *
PutF32(uint8_t *p, float v)
{
	uint32_t	u;

	memcpy(&u, &v, 4);
	return PutU32(p, u);
}

static inline uint8_t *
PutF64(uint8_t *p, double v)
{
	uint64_t	u;

	memcpy(&u, &v, 8);
	return PutU64(p, u);
}

static uint8_t *
PutF32Array(uint8_t *p, const float *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p = PutF32(p, v[i]);
	return p;
}

void
ae_bundle_serialize(const AeBundle *b, uint8_t *out)
{
	const AeArch *a = &b->arch;
	size_t		d = (size_t) a->n_inputs;
	size_t		n_params = ae_arch_param_count(a);
	size_t		config_len = b->config_json ? strlen(b->config_json) : 0;
	size_t		columns_len = b->n_columns > 0 ? b->columns_len : 0;
	size_t		payload_len = PayloadSize(b);
	uint8_t    *payload = out + AE_BUNDLE_HEADER_SIZE;
	uint8_t    *p = payload;

	/* architecture */
	p = PutU32(p, (uint32_t) a->n_inputs);
	p = PutU32(p, (uint32_t) a->n_hidden);
	p = PutU32(p, (uint32_t) a->code_layer);
	p = PutU32(p, (uint32_t) a->output_act);
	p = PutU32(p, a->tied ? 1 : 0);
	for (int i = 0; i < a->n_hidden; i++)
	{
		p = PutU32(p, (uint32_t) a->hidden[i]);
		p = PutU32(p, (uint32_t) a->hidden_act[i]);
	}

	/* parameters */
	p = PutU64(p, (uint64_t) n_params);
	p = PutF32Array(p, b->params, n_params);

	/* normalisation */
	p = PutU32(p, (uint32_t) b->norm_method);
	p = PutF32Array(p, b->norm_offset, d);
	p = PutF32Array(p, b->norm_scale, d);
	p = PutF32Array(p, b->feature_mean, d);

	/* threshold */
	p = PutF64(p, b->contamination);
	p = PutF64(p, b->threshold);
	p = PutU32(p, AE_BUNDLE_N_QUANTILES);
	for (int i = 0; i < AE_BUNDLE_N_QUANTILES; i++)
		p = PutF64(p, b->quantiles[i]);

	/* training */
	p = PutU64(p, (uint64_t) b->n_rows);
	p = PutU32(p, (uint32_t) b->epochs_run);
	p = PutF64(p, b->train_loss);
	p = PutF64(p, b->val_loss);
	p = PutU32(p, (uint32_t) b->n_history);
	for (int i = 0; i < b->n_history; i++)
	{
		p = PutU32(p, (uint32_t) b->history[i].epoch);
		p = PutF64(p, b->history[i].train_loss);
		p = PutF64(p, b->history[i].val_loss);
		p = PutF64(p, b->history[i].seconds);
	}

	/* config */
	p = PutU32(p, (uint32_t) config_len);
	if (config_len > 0)
		memcpy(p, b->config_json, config_len);
	p += config_len;

	/* columns */
	p = PutU32(p, (uint32_t) (b->n_columns > 0 ? b->n_columns : 0));
	p = PutU32(p, (uint32_t) columns_len);
	if (columns_len > 0)
		memcpy(p, b->columns, columns_len);
	p += columns_len;

	if (BundleVersion(b) >= 2)
	{
		const AeGroups *g = &b->groups;
		size_t		encoding_len = b->encoding_json ? strlen(b->encoding_json) : 0;

		p = PutU32(p, (uint32_t) g->n_plain);
		p = PutU32(p, (uint32_t) g->n_groups);
		for (int i = 0; i < g->n_groups; i++)
			p = PutU32(p, (uint32_t) g->groups[i].width);
		p = PutF32Array(p, g->weights, (size_t) ae_groups_slots(g));
		p = PutU32(p, (uint32_t) encoding_len);
		if (encoding_len > 0)
			memcpy(p, b->encoding_json, encoding_len);
		p += encoding_len;
	}

	/* header last: it covers the payload */
	memcpy(out, AE_BUNDLE_MAGIC, 4);
	PutU16(out + 4, (uint16_t) BundleVersion(b));
	PutU16(out + 6, 0);
	PutU32(out + 8, (uint32_t) payload_len);
	PutU32(out + 12, ae_crc32c(payload, payload_len));
	(void) p;
}

/* ---------------------------------------------------------------- reader */

typedef struct Reader
{
	const uint8_t *p;
	size_t		left;
	const char *section;		/* for "truncated in the … section" */
	char	   *errbuf;
	AeStatus	status;
	bool		mixed;			/* version 2: the columns need not be one per input */
} Reader;

#define FAIL(r, ...) \
	do { \
		if ((r)->status == AE_OK) \
		{ \
			(r)->status = AE_ERR_FORMAT; \
			if ((r)->errbuf) \
				snprintf((r)->errbuf, AE_ERRBUF_SIZE, __VA_ARGS__); \
		} \
	} while (0)

/* Can n more bytes be read?  Sets the error when not. */
static bool
Need(Reader *r, size_t n)
{
	if (r->status != AE_OK)
		return false;
	if (n > r->left)
	{
		FAIL(r, "model data is truncated in the %s section", r->section);
		return false;
	}
	return true;
}

static uint32_t
GetU32(Reader *r)
{
	uint32_t	v = 0;

	if (!Need(r, 4))
		return 0;
	for (int i = 0; i < 4; i++)
		v |= (uint32_t) r->p[i] << (8 * i);
	r->p += 4;
	r->left -= 4;
	return v;
}

static uint64_t
GetU64(Reader *r)
{
	uint64_t	v = 0;

	if (!Need(r, 8))
		return 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t) r->p[i] << (8 * i);
	r->p += 8;
	r->left -= 8;
	return v;
}

static float
GetF32(Reader *r)
{
	uint32_t	u = GetU32(r);
	float		v;

	memcpy(&v, &u, 4);
	return v;
}

static double
GetF64(Reader *r)
{
	uint64_t	u = GetU64(r);
	double		v;

	memcpy(&v, &u, 8);
	return v;
}

/* A width or count stored as u32 that must fit [lo, hi]. */
static int
GetCount(Reader *r, const char *what, long lo, long hi)
{
	uint32_t	v = GetU32(r);

	if (r->status != AE_OK)
		return 0;
	if ((long) v < lo || (long) v > hi)
	{
		FAIL(r, "%s is %lu; it must be between %ld and %ld", what, (unsigned long) v, lo, hi);
		return 0;
	}
	return (int) v;
}

static void *
Alloc(Reader *r, const AeAllocator *al, size_t size)
{
	void	   *p;

	if (r->status != AE_OK)
		return NULL;
	p = ae_alloc(al, size > 0 ? size : 1);
	if (p == NULL)
	{
		r->status = AE_ERR_NOMEM;
		if (r->errbuf)
			snprintf(r->errbuf, AE_ERRBUF_SIZE, "out of memory reading a model");
	}
	return p;
}

/* n floats into a new array, all finite. */
static float *
GetF32Array(Reader *r, const AeAllocator *al, size_t n, const char *what)
{
	float	   *v;

	if (!Need(r, n * 4))		/* n is bounded by the caller: no overflow */
		return NULL;
	v = Alloc(r, al, n * sizeof(float));
	if (v == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
	{
		v[i] = GetF32(r);
		if (!isfinite(v[i]))
		{
			FAIL(r, "%s %zu is not a finite number", what, i);
			break;
		}
	}
	return v;
}

/* A double that is finite, or NaN where "not known" is allowed. */
static double
GetF64Checked(Reader *r, bool nan_ok, const char *what)
{
	double		v = GetF64(r);

	if (r->status == AE_OK && !isfinite(v) && !(nan_ok && isnan(v)))
		FAIL(r, "%s is not a finite number", what);
	return v;
}

void
ae_bundle_free(AeBundle *b, const AeAllocator *al)
{
	ae_free(al, b->params);
	ae_free(al, b->norm_offset);
	ae_free(al, b->norm_scale);
	ae_free(al, b->feature_mean);
	ae_free(al, b->history);
	ae_free(al, b->config_json);
	ae_free(al, b->columns);
	ae_free(al, b->groups.groups);
	ae_free(al, b->groups.weights);
	ae_free(al, b->encoding_json);
	memset(b, 0, sizeof(*b));
}

static void
ReadArch(Reader *r, AeArch *a)
{
	char		archerr[AE_ERRBUF_SIZE];

	r->section = "architecture";
	a->n_inputs = GetCount(r, "the input width", 1, AE_MAX_WIDTH);
	a->n_hidden = GetCount(r, "the number of hidden layers", 1, AE_MAX_HIDDEN);
	a->code_layer = GetCount(r, "the code layer index", 0, AE_MAX_HIDDEN - 1);
	a->output_act = (AeActivation) GetCount(r, "the output activation", 0, 255);
	a->tied = GetCount(r, "the tied flag", 0, 1) == 1;
	for (int i = 0; i < a->n_hidden && r->status == AE_OK; i++)
	{
		a->hidden[i] = GetCount(r, "a hidden layer width", 1, AE_MAX_WIDTH);
		a->hidden_act[i] = (AeActivation) GetCount(r, "a hidden layer activation", 0, 255);
	}
	if (r->status != AE_OK)
		return;
	if (ae_arch_validate(a, archerr) != AE_OK)
		FAIL(r, "invalid architecture: %.200s", archerr);
}

static void
ReadParams(Reader *r, AeBundle *b, const AeAllocator *al)
{
	size_t		expected = ae_arch_param_count(&b->arch);
	uint64_t	n;

	r->section = "parameters";
	n = GetU64(r);
	if (r->status != AE_OK)
		return;
	if (n != (uint64_t) expected)
	{
		FAIL(r, "the model has %llu parameters; its architecture needs %zu",
			 (unsigned long long) n, expected);
		return;
	}
	/* checked against the bytes left before anything is allocated */
	if (expected > r->left / 4)
	{
		FAIL(r, "model data is truncated in the %s section", r->section);
		return;
	}
	b->params = GetF32Array(r, al, expected, "parameter");
}

static void
ReadNorm(Reader *r, AeBundle *b, const AeAllocator *al)
{
	size_t		d = (size_t) b->arch.n_inputs;
	uint32_t	method;

	r->section = "normalisation";
	method = GetU32(r);
	if (r->status != AE_OK)
		return;
	if (method != AE_NORM_NONE && method != AE_NORM_ZSCORE && method != AE_NORM_MINMAX)
	{
		FAIL(r, "unknown normalisation method %lu", (unsigned long) method);
		return;
	}
	b->norm_method = (AeNormMethod) method;
	if (!Need(r, 3 * d * 4))
		return;
	b->norm_offset = GetF32Array(r, al, d, "normalisation offset");
	b->norm_scale = GetF32Array(r, al, d, "normalisation scale");
	b->feature_mean = GetF32Array(r, al, d, "feature mean");
	for (size_t j = 0; j < d && r->status == AE_OK; j++)
		if (b->norm_scale[j] == 0.0f)
			FAIL(r, "normalisation scale %zu is zero", j);
}

static void
ReadThreshold(Reader *r, AeBundle *b)
{
	uint32_t	nq;
	int			n_nan = 0;

	r->section = "threshold";
	b->contamination = GetF64Checked(r, true, "the contamination");
	if (r->status == AE_OK && !isnan(b->contamination) &&
		(b->contamination < 0.0 || b->contamination > 1.0))
		FAIL(r, "the contamination %g is outside [0, 1]", b->contamination);
	b->threshold = GetF64Checked(r, true, "the threshold");
	if (r->status == AE_OK && b->threshold < 0.0)
		FAIL(r, "the threshold %g is negative", b->threshold);
	nq = GetU32(r);
	if (r->status != AE_OK)
		return;
	if (nq != AE_BUNDLE_N_QUANTILES)
	{
		FAIL(r, "the model has %lu quantiles; expected %d",
			 (unsigned long) nq, AE_BUNDLE_N_QUANTILES);
		return;
	}
	for (int i = 0; i < AE_BUNDLE_N_QUANTILES && r->status == AE_OK; i++)
	{
		b->quantiles[i] = GetF64Checked(r, true, "a quantile");
		if (isnan(b->quantiles[i]))
			n_nan++;
		else if (i > 0 && !isnan(b->quantiles[i - 1]) && b->quantiles[i] < b->quantiles[i - 1])
			FAIL(r, "quantile %d is smaller than quantile %d", i, i - 1);
	}
	if (r->status == AE_OK && n_nan != 0 && n_nan != AE_BUNDLE_N_QUANTILES)
		FAIL(r, "%d of the %d quantiles are missing; they must be all present or all missing",
			 n_nan, AE_BUNDLE_N_QUANTILES);
}

static void
ReadTraining(Reader *r, AeBundle *b, const AeAllocator *al)
{
	uint64_t	n_rows;
	uint32_t	n_history;

	r->section = "training";
	n_rows = GetU64(r);
	if (r->status == AE_OK && n_rows > (uint64_t) INT64_MAX)
		FAIL(r, "the row count is negative");
	b->n_rows = (int64_t) n_rows;
	b->epochs_run = GetCount(r, "the epoch count", 0, INT32_MAX);
	b->train_loss = GetF64Checked(r, true, "the training loss");
	b->val_loss = GetF64Checked(r, true, "the validation loss");
	n_history = GetU32(r);
	if (r->status != AE_OK)
		return;
	if (n_history > (uint32_t) INT32_MAX || n_history > r->left / HISTORY_ENTRY_BYTES)
	{
		FAIL(r, "model data is truncated in the %s section", r->section);
		return;
	}
	b->n_history = (int) n_history;
	if (n_history > 0)
		b->history = Alloc(r, al, (size_t) n_history * sizeof(AeEpochStats));
	for (uint32_t i = 0; i < n_history && r->status == AE_OK; i++)
	{
		AeEpochStats *e = &b->history[i];

		e->epoch = GetCount(r, "a history epoch", 1, INT32_MAX);
		e->train_loss = GetF64Checked(r, false, "a history training loss");
		e->val_loss = GetF64Checked(r, true, "a history validation loss");
		e->seconds = GetF64Checked(r, false, "a history duration");
		if (r->status == AE_OK && e->seconds < 0.0)
			FAIL(r, "history duration %lu is negative", (unsigned long) i);
	}
}

/* u32 length and that many bytes of text without NUL; NULL when empty */
static char *
GetText(Reader *r, const AeAllocator *al, const char *what)
{
	uint32_t	len;
	char	   *text;

	len = GetU32(r);
	if (!Need(r, len) || len == 0)
		return NULL;
	if (memchr(r->p, '\0', len) != NULL)
	{
		FAIL(r, "the %s text contains a NUL byte", what);
		return NULL;
	}
	text = Alloc(r, al, (size_t) len + 1);
	if (text == NULL)
		return NULL;
	memcpy(text, r->p, len);
	text[len] = '\0';
	r->p += len;
	r->left -= len;
	return text;
}

static void
ReadConfig(Reader *r, AeBundle *b, const AeAllocator *al)
{
	r->section = "configuration";
	b->config_json = GetText(r, al, "configuration");
}

static void
ReadGroups(Reader *r, AeBundle *b, const AeAllocator *al)
{
	AeGroups   *g = &b->groups;
	int			d = b->arch.n_inputs;
	int			start;
	char		gerr[AE_ERRBUF_SIZE];

	r->section = "groups";
	g->n_plain = GetCount(r, "the number of plain inputs", 0, d);
	g->n_groups = GetCount(r, "the number of groups", 0, d / 2);
	if (r->status != AE_OK || ae_groups_slots(g) == 0)
		return;					/* no slots: a model without groups or weights */
	if (!Need(r, (size_t) g->n_groups * 4 + (size_t) (g->n_plain + g->n_groups) * 4))
		return;
	if (g->n_groups > 0)
	{
		g->groups = Alloc(r, al, (size_t) g->n_groups * sizeof(AeGroup));
		if (g->groups == NULL)
			return;
	}
	start = g->n_plain;
	for (int i = 0; i < g->n_groups && r->status == AE_OK; i++)
	{
		g->groups[i].start = start;
		g->groups[i].width = GetCount(r, "a group's width", 2, d);
		start += g->groups[i].width;
		if (start > d)
			FAIL(r, "the groups need more than the %d inputs", d);
	}
	g->weights = GetF32Array(r, al, (size_t) ae_groups_slots(g), "slot weight");
	if (r->status == AE_OK && ae_groups_validate(g, d, gerr) != AE_OK)
		FAIL(r, "invalid groups: %.200s", gerr);
	/* groups are never normalised */
	for (int j = g->n_plain; j < d && r->status == AE_OK; j++)
		if (b->norm_offset[j] != 0.0f || b->norm_scale[j] != 1.0f)
			FAIL(r, "input %d of a group is normalised", j + 1);
}

static void
ReadEncoding(Reader *r, AeBundle *b, const AeAllocator *al)
{
	r->section = "encoding";
	b->encoding_json = GetText(r, al, "encoding");
	if (r->status == AE_OK && ae_groups_present(&b->groups) && b->encoding_json == NULL)
		FAIL(r, "a model with groups has no column encoding");
}

static void
ReadColumns(Reader *r, AeBundle *b, const AeAllocator *al)
{
	uint32_t	n,
				len;
	uint32_t	names = 0;

	r->section = "columns";
	n = GetU32(r);
	len = GetU32(r);
	if (!Need(r, len))
		return;
	if (n == 0 && len == 0)
		return;
	if (n != (uint32_t) b->arch.n_inputs && !(r->mixed && n >= 1 && n <= (uint32_t) b->arch.n_inputs))
	{
		FAIL(r, "the model names %lu columns but has %d inputs",
			 (unsigned long) n, b->arch.n_inputs);
		return;
	}
	if (len == 0 || r->p[len - 1] != '\0')
	{
		FAIL(r, "the last column name is not terminated");
		return;
	}
	for (uint32_t i = 0; i < len; i++)
		if (r->p[i] == '\0')
		{
			if (i == 0 || r->p[i - 1] == '\0')
			{
				FAIL(r, "column name %lu is empty", (unsigned long) names);
				return;
			}
			names++;
		}
	if (names != n)
	{
		FAIL(r, "the column list holds %lu names; expected %lu",
			 (unsigned long) names, (unsigned long) n);
		return;
	}
	b->columns = Alloc(r, al, len);
	if (b->columns == NULL)
		return;
	memcpy(b->columns, r->p, len);
	b->n_columns = (int) n;
	b->columns_len = len;
	r->p += len;
	r->left -= len;
}

AeStatus
ae_bundle_deserialize(const uint8_t *buf, size_t len, AeBundle *bundle,
					  const AeAllocator *al, char *errbuf)
{
	Reader		r = {0};
	uint16_t	version,
				flags;
	uint32_t	payload_len,
				stored_crc,
				crc;

	memset(bundle, 0, sizeof(*bundle));
	r.errbuf = errbuf;
	r.status = AE_OK;
	if (errbuf)
		errbuf[0] = '\0';

	/* header */
	if (buf == NULL || len < AE_BUNDLE_HEADER_SIZE)
	{
		FAIL(&r, "model data is %zu bytes long; the header alone needs %d", len,
			 AE_BUNDLE_HEADER_SIZE);
		return r.status;
	}
	if (memcmp(buf, AE_BUNDLE_MAGIC, 4) != 0)
	{
		FAIL(&r, "model data does not start with the autoenc magic number");
		return r.status;
	}
	version = (uint16_t) (buf[4] | (buf[5] << 8));
	flags = (uint16_t) (buf[6] | (buf[7] << 8));
	if (version < 1 || version > AE_BUNDLE_FORMAT_VERSION)
	{
		FAIL(&r, "model format version %u is not supported; this library reads versions 1 to %d",
			 (unsigned) version, AE_BUNDLE_FORMAT_VERSION);
		return r.status;
	}
	if (flags != 0)
	{
		FAIL(&r, "model data has unknown flags 0x%04x", (unsigned) flags);
		return r.status;
	}
	r.p = buf + 8;
	r.left = 8;
	r.section = "header";
	payload_len = GetU32(&r);
	stored_crc = GetU32(&r);
	if ((size_t) payload_len != len - AE_BUNDLE_HEADER_SIZE)
	{
		FAIL(&r, "model data is %zu bytes long; its header announces %lu",
			 len, (unsigned long) payload_len + AE_BUNDLE_HEADER_SIZE);
		return r.status;
	}
	crc = ae_crc32c(buf + AE_BUNDLE_HEADER_SIZE, payload_len);
	if (crc != stored_crc)
	{
		FAIL(&r, "model data checksum mismatch: stored %08lx, computed %08lx",
			 (unsigned long) stored_crc, (unsigned long) crc);
		return r.status;
	}

	/* payload */
	r.p = buf + AE_BUNDLE_HEADER_SIZE;
	r.left = payload_len;
	ReadArch(&r, &bundle->arch);
	ReadParams(&r, bundle, al);
	ReadNorm(&r, bundle, al);
	ReadThreshold(&r, bundle);
	ReadTraining(&r, bundle, al);
	ReadConfig(&r, bundle, al);
	r.mixed = version >= 2;
	ReadColumns(&r, bundle, al);
	if (version >= 2)
	{
		ReadGroups(&r, bundle, al);
		ReadEncoding(&r, bundle, al);
		if (r.status == AE_OK && bundle->encoding_json == NULL)
			FAIL(&r, "a version 2 model has no column encoding");
	}
	if (r.status == AE_OK && r.left != 0)
		FAIL(&r, "model data has %zu unexpected bytes at its end", r.left);

	if (r.status != AE_OK)
		ae_bundle_free(bundle, al);
	return r.status;
}
