/* data.h — training and test data for the trainer: a synthetic, learnable data set made from a
 * seed, and readers for CIFAR-10 (binary version) and MNIST (IDX files).
 *
 * A data set is a fixed, indexed list of (image, label) samples. Sample i is the same bytes
 * whichever process asks for it and in whatever order, so a pipeline's first stage can read the
 * images of a microbatch and its last stage the labels of the same microbatch, each on its own,
 * with no message between them. Images come out as float32 in the model's layout, (N, C) or
 * (N, C, H, W) row-major, already normalised; labels as int32 in [0, classes).
 *
 * Specs (the string a user passes on the command line):
 *   "synthetic"     class clusters made from the seed: 50,000 training and 10,000 test samples
 *                   for any input shape and class count (see data.c for how they are made);
 *   "cifar10:DIR"   DIR/data_batch_1.bin .. data_batch_5.bin (training: the ones that exist, at
 *                   least one) or DIR/test_batch.bin (test); the model's input must be 3x32x32
 *                   and its class count 10;
 *   "mnist:DIR"     DIR/train-images-idx3-ubyte + DIR/train-labels-idx1-ubyte (training) or
 *                   DIR/t10k-images-idx3-ubyte + DIR/t10k-labels-idx1-ubyte (test); the model's
 *                   input must be 1xRxC or R*C for the files' RxC images, its class count 10.
 *
 * Files are read into memory once, at open, as bytes (CIFAR-10's five training files take
 * 150 MB) and converted to float on each pc_dataset_get. A data set is immutable after open:
 * the getters may run concurrently on one data set. */
#ifndef PC_DATA_H
#define PC_DATA_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shape.h"

/* An open data set (one split of it). */
typedef struct pc_dataset pc_dataset;

/* Samples in the synthetic data set's training and test splits. */
#define PC_SYNTHETIC_TRAIN_SIZE 50000
#define PC_SYNTHETIC_TEST_SIZE 10000

/* Opens the data set that `spec` names (see above) for a model whose per-sample input shape is
 * `input` and whose class count is `classes`. `seed` names the synthetic data (the file formats
 * ignore it); `train` picks the training split, else the test split.
 * Returns NULL and sets `error` (domain PC_ERROR) on failure:
 *   PC_ERROR_USAGE   an unknown spec, a missing DIR, or a model that does not fit the data (its
 *                    input shape or class count);
 *   PC_ERROR_IO      a directory or file that does not exist or cannot be read;
 *   PC_ERROR_FORMAT  a file with the wrong contents: bad magic number, truncated, a label out of
 *                    range, image and label counts that differ, no samples.
 * File errors name the file. */
pc_dataset *pc_dataset_open(const char *spec, const pc_shape *input, int64_t classes,
                            uint64_t seed, bool train, GError **error);

/* The data set of a model reading token ids (its first layer an embed): windows of T + 1
 * tokens in [0, vocab), the input the first T as floats and the labels the last T.
 *   "synthetic"                    a learnable stream made from the seed (data.c says how);
 *   "tokens:TRAIN.bin[,TEST.bin]"  files in llm.c's format (256 int32 of header, then uint16
 *                                  tokens); with one file its last tenth of windows is the
 *                                  test split and the rest the training split.
 * Errors as pc_dataset_open's; a token at or above vocab is PC_ERROR_FORMAT naming file and
 * position. */
pc_dataset *pc_dataset_open_tokens(const char *spec, int64_t T, int64_t vocab, uint64_t seed,
                                   bool train, GError **error);

/* Number of samples (> 0). */
int64_t pc_dataset_size(const pc_dataset *d);

/* Elements per sample: pc_shape_numel of the input shape given at open. */
int64_t pc_dataset_numel(const pc_dataset *d);

/* Class count (labels lie in [0, classes)). */
int64_t pc_dataset_classes(const pc_dataset *d);

/* Labels per sample: 1, or T for token windows. */
int64_t pc_dataset_positions(const pc_dataset *d);

/* Samples first .. first+n-1, each index taken modulo the size (so a negative `first` or a
 * range that runs past the end wraps around).
 *   x: (n, numel) float32, or NULL for labels only
 *   labels: (n, positions) int32, or NULL for images only.
 * Deterministic: the same index always gives the same bytes, in any process. */
void pc_dataset_get(const pc_dataset *d, int64_t first, size_t n, float *x, int32_t *labels);

/* Only the labels of samples first .. first+n-1 (cheap; the same as pc_dataset_get's).
 *   labels: (n, positions). */
void pc_dataset_labels(const pc_dataset *d, int64_t first, size_t n, int32_t *labels);

/* One line describing the data set, e.g. "synthetic (train): 50000 samples of 3x32x32,
 * 10 classes, seed 1". Owned by the data set. */
const char *pc_dataset_describe(const pc_dataset *d);

/* Frees the data set; NULL is allowed. */
void pc_dataset_free(pc_dataset *d);

#endif /* PC_DATA_H */
