/*
 * ae_bundle.h — a trained model with everything scoring needs, and its
 * binary format.
 *
 * A bundle is what the catalog stores (bytea column) and what the ae_model
 * SQL type carries (a varlena with the same bytes), so ae_fit's result and a
 * catalog row are interchangeable.  The format is versioned, self-checking
 * and parsed defensively: the deserialiser is pure C so that it can be
 * fuzzed without a server.
 *
 * Layout (little-endian throughout, documented in doc/how-it-works.md):
 *   magic "AENC" | u16 format_version | u16 flags | u32 payload_length |
 *   u32 checksum (CRC-32C of the payload) | payload
 * The payload holds, in this order: the architecture, the parameters, the
 * normalisation, the threshold and quantiles, the training summary and
 * history, the configuration text and the column names; format version 2
 * adds the softmax groups and the column encoding of mixed-type models.
 * A model without either is still written as version 1, byte for byte what
 * earlier releases wrote.  Flags are 0; a reader refuses flags it does not
 * know.
 *
 * "Not known" values: a model imported without them has no threshold,
 * contamination, quantiles or losses.  Those fields then hold NaN (the
 * quantiles all together); every other number is finite, and no field is
 * ever ±Infinity.
 */
#ifndef AE_BUNDLE_H
#define AE_BUNDLE_H

#include "ae_groups.h"
#include "ae_nn.h"
#include "ae_norm.h"
#include "ae_train.h"

#define AE_BUNDLE_MAGIC			"AENC"
#define AE_BUNDLE_FORMAT_VERSION 2	/* the newest; version 1 bundles still read */
#define AE_BUNDLE_N_QUANTILES	101 /* error quantiles at 0%, 1%, …, 100% */
#define AE_BUNDLE_HEADER_SIZE	16	/* magic, version, flags, length, checksum */

typedef struct AeBundle
{
	AeArch		arch;
	float	   *params;			/* ae_arch_param_count(&arch) floats */

	AeNormMethod norm_method;
	float	   *norm_offset;	/* n_inputs: normalised = (x - offset) / scale */
	float	   *norm_scale;		/* n_inputs, never 0 */
	float	   *feature_mean;	/* n_inputs, training mean in original units (missing-value imputation) */

	/*
	 * Anomaly threshold and the training-error distribution (normalised-space
	 * MSE).  NaN when not known; quantiles are all NaN or all finite and
	 * non-decreasing; a known contamination lies in [0, 1]; a known
	 * threshold is not negative (nor is any history entry's seconds).
	 */
	double		contamination;	/* share of training rows above threshold */
	double		threshold;
	double		quantiles[AE_BUNDLE_N_QUANTILES];

	/* how it was trained */
	int64_t		n_rows;			/* rows used (train + validation), >= 0 */
	int			epochs_run;		/* >= 0 */
	double		train_loss;		/* NaN when not known */
	double		val_loss;		/* NaN without validation rows */
	int			n_history;		/* >= 0 */
	AeEpochStats *history;		/* n_history entries; only val_loss may be NaN */

	/*
	 * The full configuration actually used, defaults filled in, as a JSON
	 * object text (the SQL layer stores it as jsonb), and the input column
	 * names for named-column models: n_columns NUL-terminated strings laid
	 * end to end in columns (NULL / 0 for array-input models).  config_json
	 * may be NULL (serialised as empty, read back as NULL) and holds no NUL
	 * byte.  A named-column model has one non-empty name per input:
	 * n_columns == arch.n_inputs.
	 */
	char	   *config_json;
	int			n_columns;
	char	   *columns;
	size_t		columns_len;	/* bytes of columns, terminators included */

	/*
	 * Mixed-type models (format version 2).  groups has no slots (both
	 * counts 0, NULL arrays) for a numeric model; a mixed model without a
	 * categorical column has plain slots only (its column weights).
	 * encoding_json, NULL for a numeric model, is the SQL layer's per-column
	 * encoding (kinds, vocabularies, date features, missing states) as JSON
	 * text without NUL bytes; the core stores it and does not read it.  With
	 * an encoding, the columns are the table's columns, one or more, not one
	 * per input.
	 */
	AeGroups	groups;
	char	   *encoding_json;
} AeBundle;

/* CRC-32C (Castagnoli, as in iSCSI and PostgreSQL's WAL) of len bytes. */
uint32_t	ae_crc32c(const void *data, size_t len);

/* Bytes ae_bundle_serialize will write. */
size_t		ae_bundle_serialized_size(const AeBundle *bundle);

/* Write the bundle into out (ae_bundle_serialized_size bytes). */
void		ae_bundle_serialize(const AeBundle *bundle, uint8_t *out);

/*
 * Parse len bytes into *bundle; every pointer in it is allocated from al.
 * Checks magic, version, flags, lengths, checksum, the architecture
 * (ae_arch_validate), the parameter count, that every number is finite (NaN
 * only where "not known" is allowed, see above) and within its range (a
 * contamination in [0, 1], no negative threshold or duration; the limits
 * ae_import applies) and the column names;
 * AE_ERR_FORMAT with a message in errbuf (AE_ERRBUF_SIZE) otherwise,
 * AE_ERR_NOMEM when al fails.  Never reads outside buf; nothing is
 * allocated before the lengths are known to fit in buf.  On failure
 * everything allocated is freed again and *bundle is zeroed.
 */
AeStatus	ae_bundle_deserialize(const uint8_t *buf, size_t len, AeBundle *bundle,
								  const AeAllocator *al, char *errbuf);

/* Free what ae_bundle_deserialize allocated (NULL pointers are skipped). */
void		ae_bundle_free(AeBundle *bundle, const AeAllocator *al);

#endif							/* AE_BUNDLE_H */
