/*
 * test_bundle.c — the model bundle's binary format: a round trip keeps every
 * field, the checksum catches every flipped byte, truncated, extended,
 * mutated and hand-corrupted buffers are refused with AE_ERR_FORMAT and a
 * message (never read out of bounds: each buffer under test is a malloc of
 * its exact size, so a sanitizer build catches a stray read), and a failed
 * parse leaves nothing allocated.
 */
#include <string.h>

#include "ae_bundle.h"
#include "ae_rng.h"
#include "unit.h"
#include "counting_alloc.h"

/* ------------------------------------------------------------ fixtures */

static const char ConfigText[] = "{\"epochs\": 3, \"hidden\": [4, 2, 4], \"optimizer\": \"adam\"}";
static const char ColumnText[] = "alpha\0beta\0gamma\0delta\0eps";	/* 5 names, last NUL implied */

/* A 5-4-2-4-5 network (or 5-3-5 tied) with every field set to something recognisable. */
static void
MakeBundle(AeBundle *b, bool tied, bool extras)
{
	int			hidden[3] = {4, 2, 4};
	int			tied_hidden[1] = {3};
	size_t		n;
	AeRng		rng;

	memset(b, 0, sizeof(*b));
	if (tied)
		ae_arch_make(&b->arch, 5, 1, tied_hidden, AE_ACT_TANH, AE_ACT_LINEAR, true);
	else
		ae_arch_make(&b->arch, 5, 3, hidden, AE_ACT_RELU, AE_ACT_SIGMOID, false);
	if (!tied)
		b->arch.hidden_act[1] = AE_ACT_ELU;
	n = ae_arch_param_count(&b->arch);
	b->params = malloc(n * sizeof(float));
	ae_rng_seed(&rng, 7);
	for (size_t i = 0; i < n; i++)
		b->params[i] = (float) (ae_rng_uniform(&rng) * 2.0 - 1.0);
	b->norm_method = AE_NORM_ZSCORE;
	b->norm_offset = malloc(5 * sizeof(float));
	b->norm_scale = malloc(5 * sizeof(float));
	b->feature_mean = malloc(5 * sizeof(float));
	for (int j = 0; j < 5; j++)
	{
		b->norm_offset[j] = 10.0f * j - 3.5f;
		b->norm_scale[j] = 0.25f + j;
		b->feature_mean[j] = 10.0f * j - 3.25f;
	}
	b->contamination = 0.05;
	b->threshold = 1.2345678901234;
	for (int i = 0; i < AE_BUNDLE_N_QUANTILES; i++)
		b->quantiles[i] = 0.01 * i * i;
	b->n_rows = INT64_C(12345678901);
	b->epochs_run = 3;
	b->train_loss = 0.125;
	b->val_loss = NAN;
	if (extras)
	{
		b->n_history = 3;
		b->history = malloc(3 * sizeof(AeEpochStats));
		for (int i = 0; i < 3; i++)
		{
			b->history[i].epoch = i + 1;
			b->history[i].train_loss = 1.0 / (i + 1);
			b->history[i].val_loss = i == 1 ? NAN : 2.0 / (i + 1);
			b->history[i].seconds = 0.5 * i;
		}
		b->config_json = malloc(sizeof(ConfigText));
		memcpy(b->config_json, ConfigText, sizeof(ConfigText));
		b->n_columns = 5;
		b->columns_len = sizeof(ColumnText);
		b->columns = malloc(sizeof(ColumnText));
		memcpy(b->columns, ColumnText, sizeof(ColumnText));
	}
}

static void
FreeFixture(AeBundle *b)
{
	free(b->params);
	free(b->norm_offset);
	free(b->norm_scale);
	free(b->feature_mean);
	free(b->history);
	free(b->config_json);
	free(b->columns);
}

static uint8_t *
Serialize(const AeBundle *b, size_t *len)
{
	*len = ae_bundle_serialized_size(b);
	uint8_t    *buf = malloc(*len);

	ae_bundle_serialize(b, buf);
	return buf;
}

static uint8_t *
Copy(const uint8_t *buf, size_t len)
{
	uint8_t    *c = malloc(len > 0 ? len : 1);

	memcpy(c, buf, len);
	return c;
}

static void
PutLE32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t) (v >> (8 * i));
}

/* Make the header agree with a (modified) payload: length and checksum. */
static void
FixHeader(uint8_t *buf, size_t len)
{
	PutLE32(buf + 8, (uint32_t) (len - AE_BUNDLE_HEADER_SIZE));
	PutLE32(buf + 12, ae_crc32c(buf + AE_BUNDLE_HEADER_SIZE, len - AE_BUNDLE_HEADER_SIZE));
}

/* Deserialize an exact-size copy; returns the status, message in errbuf. */
static AeStatus
Parse(const uint8_t *buf, size_t len, char *errbuf)
{
	uint8_t    *c = Copy(buf, len);
	AeBundle	out;
	AeStatus	st;

	st = ae_bundle_deserialize(c, len, &out, &counting, errbuf);
	if (st == AE_OK)
		ae_bundle_free(&out, &counting);
	free(c);
	return st;
}

static bool
SameDouble(double a, double b)
{
	return memcmp(&a, &b, sizeof(double)) == 0;
}

/* Payload offsets of the 5-4-2-4-5 fixture, from the documented layout. */
static size_t
ParamsOffset(const AeBundle *b)
{
	return AE_BUNDLE_HEADER_SIZE + 20 + (size_t) b->arch.n_hidden * 8 + 8;
}

static size_t
NormOffset(const AeBundle *b)
{
	return ParamsOffset(b) + ae_arch_param_count(&b->arch) * 4;
}

static size_t
ThresholdOffset(const AeBundle *b)
{
	return NormOffset(b) + 4 + 3 * (size_t) b->arch.n_inputs * 4;
}

/* ------------------------------------------------------------ tests */

static void
TestCrc(void)
{
	unit_ok(ae_crc32c("123456789", 9) == 0xE3069283u,
			"CRC-32C of \"123456789\" is the standard check value e3069283");
	unit_ok(ae_crc32c("", 0) == 0, "CRC-32C of nothing is 0");
}

static void
TestRoundTrip(bool tied, bool extras)
{
	AeBundle	b,
				r;
	size_t		len,
				len2;
	uint8_t    *buf,
			   *guarded;
	char		errbuf[AE_ERRBUF_SIZE];
	AeStatus	st;
	bool		same;
	size_t		n_params;
	const char *what = tied ? "tied 5-3-5" : extras ? "5-4-2-4-5 with history, config, columns" : "5-4-2-4-5 bare";

	MakeBundle(&b, tied, extras);
	n_params = ae_arch_param_count(&b.arch);
	len = ae_bundle_serialized_size(&b);

	/* the writer stays inside the size it announced */
	guarded = malloc(len + 64);
	memset(guarded, 0xA5, len + 64);
	ae_bundle_serialize(&b, guarded);
	same = true;
	for (size_t i = len; i < len + 64; i++)
		same = same && guarded[i] == 0xA5;
	unit_ok(same, "%s: serialize writes exactly ae_bundle_serialized_size (%zu) bytes", what, len);
	buf = Copy(guarded, len);
	free(guarded);
	unit_ok(memcmp(buf, "AENC", 4) == 0 && buf[4] == 1 && buf[5] == 0 && buf[6] == 0 && buf[7] == 0,
			"%s: header starts with AENC, format version 1 (little-endian), flags 0", what);

	st = ae_bundle_deserialize(buf, len, &r, &counting, errbuf);
	unit_ok(st == AE_OK, "%s: deserializes (%s)", what, st == AE_OK ? "ok" : errbuf);
	if (st != AE_OK)
	{
		free(buf);
		FreeFixture(&b);
		return;
	}
	same = r.arch.n_inputs == b.arch.n_inputs && r.arch.n_hidden == b.arch.n_hidden &&
		r.arch.output_act == b.arch.output_act && r.arch.code_layer == b.arch.code_layer &&
		r.arch.tied == b.arch.tied;
	for (int i = 0; i < b.arch.n_hidden; i++)
		same = same && r.arch.hidden[i] == b.arch.hidden[i] && r.arch.hidden_act[i] == b.arch.hidden_act[i];
	unit_ok(same, "%s: architecture survives (widths, activations, code layer, tied)", what);
	unit_ok(memcmp(r.params, b.params, n_params * sizeof(float)) == 0,
			"%s: all %zu parameters are bit-identical", what, n_params);
	unit_ok(r.norm_method == b.norm_method &&
			memcmp(r.norm_offset, b.norm_offset, 5 * sizeof(float)) == 0 &&
			memcmp(r.norm_scale, b.norm_scale, 5 * sizeof(float)) == 0 &&
			memcmp(r.feature_mean, b.feature_mean, 5 * sizeof(float)) == 0,
			"%s: normalisation method, offset, scale and feature mean survive", what);
	same = SameDouble(r.contamination, b.contamination) && SameDouble(r.threshold, b.threshold);
	for (int i = 0; i < AE_BUNDLE_N_QUANTILES; i++)
		same = same && SameDouble(r.quantiles[i], b.quantiles[i]);
	unit_ok(same, "%s: contamination, threshold and the 101 quantiles are bit-identical", what);
	unit_ok(r.n_rows == b.n_rows && r.epochs_run == b.epochs_run &&
			SameDouble(r.train_loss, b.train_loss) && isnan(r.val_loss),
			"%s: rows (beyond 32 bits), epochs, train loss and a NaN validation loss survive", what);
	same = r.n_history == b.n_history;
	for (int i = 0; same && i < b.n_history; i++)
		same = r.history[i].epoch == b.history[i].epoch &&
			SameDouble(r.history[i].train_loss, b.history[i].train_loss) &&
			SameDouble(r.history[i].val_loss, b.history[i].val_loss) &&
			SameDouble(r.history[i].seconds, b.history[i].seconds);
	unit_ok(same, "%s: history of %d epochs survives", what, b.n_history);
	if (extras)
		unit_ok(r.config_json && strcmp(r.config_json, ConfigText) == 0 &&
				r.n_columns == 5 && r.columns_len == sizeof(ColumnText) &&
				memcmp(r.columns, ColumnText, sizeof(ColumnText)) == 0,
				"%s: configuration text and the 5 column names survive", what);
	else
		unit_ok(r.config_json == NULL && r.columns == NULL && r.n_columns == 0 &&
				r.columns_len == 0 && r.history == NULL,
				"%s: absent configuration, columns and history read back as NULL / 0", what);

	/* writing what was read gives the same bytes */
	{
		uint8_t    *again = Serialize(&r, &len2);

		unit_ok(len2 == len && memcmp(again, buf, len) == 0,
				"%s: serializing the parsed bundle reproduces the bytes", what);
		free(again);
	}
	ae_bundle_free(&r, &counting);
	unit_ok(live_blocks == 0 && r.params == NULL, "%s: ae_bundle_free releases every block", what);
	free(buf);
	FreeFixture(&b);
}

static void
TestCorruption(void)
{
	AeBundle	b;
	size_t		len;
	uint8_t    *buf;
	char		errbuf[AE_ERRBUF_SIZE];
	int			accepted = 0,
				no_message = 0;
	size_t		first_bad = 0;

	MakeBundle(&b, false, true);
	buf = Serialize(&b, &len);

	/* every byte, header included, flipped in turn */
	for (size_t i = 0; i < len; i++)
	{
		buf[i] ^= 0x10;
		errbuf[0] = '\0';
		if (Parse(buf, len, errbuf) != AE_ERR_FORMAT)
		{
			if (accepted++ == 0)
				first_bad = i;
		}
		else if (errbuf[0] == '\0')
			no_message++;
		buf[i] ^= 0x10;
	}
	unit_ok(accepted == 0 && no_message == 0,
			"each of the %zu bytes flipped is refused with a message (%d accepted, first at %zu)",
			len, accepted, first_bad);

	buf[AE_BUNDLE_HEADER_SIZE + 40] ^= 0x01;
	Parse(buf, len, errbuf);
	unit_ok(strstr(errbuf, "checksum mismatch") != NULL, "a flipped payload byte is reported as a checksum mismatch: %s", errbuf);
	buf[AE_BUNDLE_HEADER_SIZE + 40] ^= 0x01;

	/* truncation at every length: the header's length no longer matches */
	accepted = 0;
	for (size_t l = 0; l < len; l++)
		if (Parse(buf, l, errbuf) != AE_ERR_FORMAT)
			accepted++;
	unit_ok(accepted == 0, "all %zu truncations (0 .. %zu bytes) are refused", len, len - 1);
	Parse(buf, 7, errbuf);
	unit_ok(strstr(errbuf, "header alone needs 16") != NULL, "a 7-byte buffer: %s", errbuf);

	/*
	 * Truncation inside the parser: the payload cut at every length with the
	 * header fixed up (length and checksum recomputed), so only the section
	 * readers stand between a short buffer and an out-of-bounds read.
	 */
	accepted = 0;
	no_message = 0;
	for (size_t l = AE_BUNDLE_HEADER_SIZE; l < len; l++)
	{
		uint8_t    *c = Copy(buf, l);

		FixHeader(c, l);
		errbuf[0] = '\0';
		if (Parse(c, l, errbuf) != AE_ERR_FORMAT)
			accepted++;
		else if (errbuf[0] == '\0')
			no_message++;
		free(c);
	}
	unit_ok(accepted == 0 && no_message == 0 && live_blocks == 0,
			"all %zu payload truncations with a consistent header are refused, nothing leaks",
			len - AE_BUNDLE_HEADER_SIZE);
	{
		uint8_t    *c = Copy(buf, len - 3);

		FixHeader(c, len - 3);
		Parse(c, len - 3, errbuf);
		unit_ok(strstr(errbuf, "truncated in the columns section") != NULL,
				"a payload cut in its last section names it: %s", errbuf);
		free(c);
	}

	/* one byte too many */
	{
		uint8_t    *c = malloc(len + 1);

		memcpy(c, buf, len);
		c[len] = 0;
		FixHeader(c, len + 1);
		Parse(c, len + 1, errbuf);
		unit_ok(strstr(errbuf, "1 unexpected bytes at its end") != NULL, "trailing data is refused: %s", errbuf);
		free(c);
	}
	free(buf);
	FreeFixture(&b);
}

/* Modify one 32-bit field of a fresh serialization, fix the header, parse. */
typedef void (*Mutator) (uint8_t *buf, const AeBundle *b);

static void
ExpectRefused(Mutator mutate, const char *expect, const char *what)
{
	AeBundle	b;
	size_t		len;
	uint8_t    *buf;
	char		errbuf[AE_ERRBUF_SIZE] = "";
	AeStatus	st;

	MakeBundle(&b, false, true);
	buf = Serialize(&b, &len);
	mutate(buf, &b);
	if (memcmp(buf, "AENC", 4) == 0 && buf[4] == 1)
		FixHeader(buf, len);
	st = Parse(buf, len, errbuf);
	unit_ok(st == AE_ERR_FORMAT && strstr(errbuf, expect) != NULL && live_blocks == 0,
			"%s is refused: %s", what, errbuf);
	free(buf);
	FreeFixture(&b);
}

static void
ExpectAccepted(Mutator mutate, const char *what)
{
	AeBundle	b;
	size_t		len;
	uint8_t    *buf;
	char		errbuf[AE_ERRBUF_SIZE] = "";
	AeStatus	st;

	MakeBundle(&b, false, true);
	buf = Serialize(&b, &len);
	mutate(buf, &b);
	FixHeader(buf, len);
	st = Parse(buf, len, errbuf);
	unit_ok(st == AE_OK, "%s is accepted%s%s", what, st == AE_OK ? "" : ": ", errbuf);
	free(buf);
	FreeFixture(&b);
}

static void
PutF32At(uint8_t *p, float v)
{
	uint32_t	u;

	memcpy(&u, &v, 4);
	PutLE32(p, u);
}

static void
PutF64At(uint8_t *p, double v)
{
	uint64_t	u;

	memcpy(&u, &v, 8);
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t) (u >> (8 * i));
}

static void
MutMagic(uint8_t *buf, const AeBundle *b)
{
	(void) b;
	memcpy(buf, "AENX", 4);
}
static void
MutVersion(uint8_t *buf, const AeBundle *b)
{
	(void) b;
	buf[4] = 3;
}
static void
MutFlags(uint8_t *buf, const AeBundle *b)
{
	buf[6] = 1;
	FixHeader(buf, ae_bundle_serialized_size(b));
}
static void
MutNanParam(uint8_t *buf, const AeBundle *b)
{
	PutF32At(buf + ParamsOffset(b) + 3 * 4, NAN);
}
static void
MutInfParam(uint8_t *buf, const AeBundle *b)
{
	PutF32At(buf + ParamsOffset(b), -INFINITY);
}
static void
MutZeroScale(uint8_t *buf, const AeBundle *b)
{
	PutF32At(buf + NormOffset(b) + 4 + 5 * 4 + 2 * 4, 0.0f);
}
static void
MutNanMean(uint8_t *buf, const AeBundle *b)
{
	PutF32At(buf + NormOffset(b) + 4 + 10 * 4, NAN);
}
static void
MutNormMethod(uint8_t *buf, const AeBundle *b)
{
	PutLE32(buf + NormOffset(b), 7);
}
static void
MutInfThreshold(uint8_t *buf, const AeBundle *b)
{
	PutF64At(buf + ThresholdOffset(b) + 8, INFINITY);
}
static void
MutNanThreshold(uint8_t *buf, const AeBundle *b)
{
	PutF64At(buf + ThresholdOffset(b) + 8, NAN);
}
static void
MutNegativeThreshold(uint8_t *buf, const AeBundle *b)
{
	PutF64At(buf + ThresholdOffset(b) + 8, -0.5);
}
/* history[0].seconds: after the threshold section (828 bytes), the training
 * summary (32) and entry 0's epoch and two losses (20) */
static void
MutNegativeSeconds(uint8_t *buf, const AeBundle *b)
{
	PutF64At(buf + ThresholdOffset(b) + 828 + 32 + 20, -1e-300);
}
static void
MutBadContamination(uint8_t *buf, const AeBundle *b)
{
	PutF64At(buf + ThresholdOffset(b), 1.5);
}
static void
MutOneNanQuantile(uint8_t *buf, const AeBundle *b)
{
	PutF64At(buf + ThresholdOffset(b) + 20 + 50 * 8, NAN);
}
static void
MutDecreasingQuantile(uint8_t *buf, const AeBundle *b)
{
	PutF64At(buf + ThresholdOffset(b) + 20 + 50 * 8, -1.0);
}
static void
MutAllNanQuantiles(uint8_t *buf, const AeBundle *b)
{
	for (int i = 0; i < AE_BUNDLE_N_QUANTILES; i++)
		PutF64At(buf + ThresholdOffset(b) + 20 + i * 8, NAN);
}
static void
MutZeroWidth(uint8_t *buf, const AeBundle *b)
{
	(void) b;
	PutLE32(buf + AE_BUNDLE_HEADER_SIZE + 20 + 8, 0);
}
static void
MutTooWide(uint8_t *buf, const AeBundle *b)
{
	(void) b;
	PutLE32(buf + AE_BUNDLE_HEADER_SIZE, AE_MAX_WIDTH + 1);
}
static void
MutTooDeep(uint8_t *buf, const AeBundle *b)
{
	(void) b;
	PutLE32(buf + AE_BUNDLE_HEADER_SIZE + 4, AE_MAX_HIDDEN + 1);
}
static void
MutCodeLayer(uint8_t *buf, const AeBundle *b)
{
	(void) b;
	PutLE32(buf + AE_BUNDLE_HEADER_SIZE + 8, 3);
}
static void
MutOutputRelu(uint8_t *buf, const AeBundle *b)
{
	(void) b;
	PutLE32(buf + AE_BUNDLE_HEADER_SIZE + 12, AE_ACT_RELU);
}
static void
MutActivation(uint8_t *buf, const AeBundle *b)
{
	(void) b;
	PutLE32(buf + AE_BUNDLE_HEADER_SIZE + 20 + 4, 42);
}
static void
MutTied(uint8_t *buf, const AeBundle *b)
{
	(void) b;
	/* 4-2-4 mirrors, so move the code layer off the middle */
	PutLE32(buf + AE_BUNDLE_HEADER_SIZE + 8, 0);
	PutLE32(buf + AE_BUNDLE_HEADER_SIZE + 16, 1);
}
static void
MutTiedFlag(uint8_t *buf, const AeBundle *b)
{
	(void) b;
	PutLE32(buf + AE_BUNDLE_HEADER_SIZE + 16, 2);
}
static void
MutParamCount(uint8_t *buf, const AeBundle *b)
{
	/* a huge count must be refused before anything is allocated for it */
	PutLE32(buf + ParamsOffset(b) - 8, 0xFFFFFFFFu);
	PutLE32(buf + ParamsOffset(b) - 4, 0x0FFFFFFFu);
}

static size_t
ColumnsOffset(const AeBundle *b)
{
	return ae_bundle_serialized_size(b) - b->columns_len - 8;
}

static void
MutColumnCount(uint8_t *buf, const AeBundle *b)
{
	PutLE32(buf + ColumnsOffset(b), 4);
}
static void
MutEmptyColumn(uint8_t *buf, const AeBundle *b)
{
	buf[ColumnsOffset(b) + 8 + 6] = '\0';
}
static void
MutConfigNul(uint8_t *buf, const AeBundle *b)
{
	buf[ColumnsOffset(b) - 5] = '\0';
}

static void
TestRefusals(void)
{
	ExpectRefused(MutMagic, "magic number", "a wrong magic number");
	ExpectRefused(MutVersion, "format version 3 is not supported", "format version 3");
	ExpectRefused(MutFlags, "unknown flags 0x0001", "an unknown flag");
	ExpectRefused(MutNanParam, "parameter 3 is not a finite number", "a NaN parameter");
	ExpectRefused(MutInfParam, "parameter 0 is not a finite number", "an infinite parameter");
	ExpectRefused(MutZeroScale, "normalisation scale 2 is zero", "a zero normalisation scale");
	ExpectRefused(MutNanMean, "feature mean 0 is not a finite number", "a NaN feature mean");
	ExpectRefused(MutNormMethod, "unknown normalisation method 7", "an unknown normalisation method");
	ExpectRefused(MutInfThreshold, "the threshold is not a finite number", "an infinite threshold");
	ExpectAccepted(MutNanThreshold, "a NaN threshold (not known)");
	ExpectRefused(MutBadContamination, "contamination 1.5 is outside [0, 1]", "a contamination of 1.5");
	ExpectRefused(MutNegativeThreshold, "the threshold -0.5 is negative", "a negative threshold");
	ExpectRefused(MutNegativeSeconds, "history duration 0 is negative", "a negative history duration");
	ExpectRefused(MutOneNanQuantile, "1 of the 101 quantiles are missing", "one missing quantile");
	ExpectAccepted(MutAllNanQuantiles, "all quantiles NaN (not known)");
	ExpectRefused(MutDecreasingQuantile, "quantile 50 is smaller than quantile 49", "decreasing quantiles");
	ExpectRefused(MutZeroWidth, "a hidden layer width is 0", "a hidden width of 0");
	ExpectRefused(MutTooWide, "the input width is 65537", "an input width above AE_MAX_WIDTH");
	ExpectRefused(MutTooDeep, "the number of hidden layers is 16", "16 hidden layers");
	ExpectRefused(MutCodeLayer, "invalid architecture: code layer index 3 is out of range", "a code layer past the last hidden layer");
	ExpectRefused(MutOutputRelu, "invalid architecture: output activation must be linear or sigmoid", "a relu output");
	ExpectRefused(MutActivation, "invalid architecture: hidden layer 1 has an unknown activation", "an unknown activation");
	ExpectRefused(MutTied, "invalid architecture: tied weights need", "tied weights with the code off the middle layer");
	ExpectRefused(MutTiedFlag, "the tied flag is 2", "a tied flag of 2");
	ExpectRefused(MutParamCount, "parameters; its architecture needs", "a parameter count that disagrees with the architecture");
	ExpectRefused(MutColumnCount, "names 4 columns but has 5 inputs", "4 column names for 5 inputs");
	ExpectRefused(MutEmptyColumn, "column name 1 is empty", "an empty column name");
	ExpectRefused(MutConfigNul, "configuration text contains a NUL byte", "a NUL inside the configuration");
}

/*
 * Random mutations with a consistent header: whatever the parser accepts
 * must serialize back to exactly the same bytes (it read every field as it
 * is), and whatever it refuses must leave nothing allocated.
 */
static void
TestFuzz(void)
{
	AeBundle	b;
	size_t		len;
	uint8_t    *buf;
	AeRng		rng;
	int			n_ok = 0,
				n_bad = 0,
				mismatch = 0,
				other_status = 0;

	MakeBundle(&b, false, true);
	buf = Serialize(&b, &len);
	ae_rng_seed(&rng, 2024);
	for (int iter = 0; iter < 20000; iter++)
	{
		uint8_t    *c = Copy(buf, len);
		int			n_mut = 1 + (int) (ae_rng_next(&rng) % 4);
		AeBundle	out;
		char		errbuf[AE_ERRBUF_SIZE];
		AeStatus	st;

		for (int m = 0; m < n_mut; m++)
		{
			size_t		pos = AE_BUNDLE_HEADER_SIZE + ae_rng_next(&rng) % (len - AE_BUNDLE_HEADER_SIZE);

			c[pos] = (uint8_t) ae_rng_next(&rng);
		}
		FixHeader(c, len);
		st = ae_bundle_deserialize(c, len, &out, &counting, errbuf);
		if (st == AE_OK)
		{
			size_t		len2;
			uint8_t    *again = Serialize(&out, &len2);

			n_ok++;
			if (len2 != len || memcmp(again, c, len) != 0)
				mismatch++;
			free(again);
			ae_bundle_free(&out, &counting);
		}
		else if (st == AE_ERR_FORMAT)
			n_bad++;
		else
			other_status++;
		free(c);
	}
	unit_ok(mismatch == 0 && other_status == 0 && live_blocks == 0,
			"20000 random mutations: %d accepted and re-serialized identically, %d refused, nothing leaks",
			n_ok, n_bad);
	free(buf);
	FreeFixture(&b);
}

static void
TestAllocationFailure(void)
{
	AeBundle	b,
				out;
	size_t		len;
	uint8_t    *buf;
	char		errbuf[AE_ERRBUF_SIZE];
	bool		all_nomem = true;
	long		needed;

	MakeBundle(&b, false, true);
	buf = Serialize(&b, &len);
	alloc_calls = 0;
	ae_bundle_deserialize(buf, len, &out, &counting, errbuf);
	ae_bundle_free(&out, &counting);
	needed = alloc_calls;
	for (long k = 0; k < needed; k++)
	{
		alloc_calls = 0;
		fail_at = k;
		if (ae_bundle_deserialize(buf, len, &out, &counting, errbuf) != AE_ERR_NOMEM || live_blocks != 0)
			all_nomem = false;
	}
	fail_at = -1;
	unit_ok(needed == 7 && all_nomem,
			"an allocator failing at each of the %ld allocations gives AE_ERR_NOMEM and leaks nothing",
			needed);
	free(buf);
	FreeFixture(&b);
}

int
main(void)
{
	TestCrc();
	TestRoundTrip(false, true);
	TestRoundTrip(false, false);
	TestRoundTrip(true, false);
	TestCorruption();
	TestRefusals();
	TestFuzz();
	TestAllocationFailure();
	return unit_done();
}
