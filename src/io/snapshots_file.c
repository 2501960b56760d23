/* The workers' part of a checkpoint: every kept snapshot (the weights and optimizer
 * state of a paused trial) in one HDF5 file written collectively with the MPI-IO
 * driver. Each rank passes its own snapshots; the datasets /snapshots/trial<ID> are
 * created by all ranks together (HDF5 requires it), each rank then writes its own bytes
 * independently. Attributes give each snapshot's size and checksum; the root attribute
 * "complete" comes last. Reading is serial and by any rank: a resumed run may have
 * another number of ranks and hands snapshots out anew. */
#include "io/h5util.h"
#include "lamarck/error.h"
#include "lamarck/hash.h"
#include "lamarck/io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SNAP_MAX ((size_t)1 << 40)
#define SNAP_COUNT_MAX (1 << 24)

typedef struct meta {
    int64_t trial;
    uint64_t bytes;
    uint64_t checksum;
} meta;

/* Every rank's (trial, bytes, checksum) in rank order. */
static int gather(int n, const int *trial, const void *const *data, const size_t *bytes,
                  meta **all, int *total, int *first) {
    int size, rank;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    int *counts = malloc((size_t)size * sizeof *counts), *displs = malloc((size_t)size * sizeof *displs);
    meta *mine = malloc((size_t)(n ? n : 1) * sizeof *mine);
    int rc = LM_OK;
    *all = NULL;
    if (!counts || !displs || !mine) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++)
        mine[i] = (meta){trial[i], bytes[i], lm_fnv1a64(LM_FNV1A64_INIT, data[i], bytes[i])};
    MPI_Allgather(&n, 1, MPI_INT, counts, 1, MPI_INT, MPI_COMM_WORLD);
    int sum = 0;
    for (int r = 0; r < size; r++) {
        displs[r] = sum * (int)sizeof(meta);
        sum += counts[r];
        counts[r] *= (int)sizeof(meta);
    }
    *first = displs[rank] / (int)sizeof(meta);
    *all = malloc((size_t)(sum ? sum : 1) * sizeof **all);
    if (!*all) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
        goto out;
    }
    MPI_Allgatherv(mine, n * (int)sizeof(meta), MPI_BYTE, *all, counts, displs, MPI_BYTE,
                   MPI_COMM_WORLD);
    *total = sum;
out:
    free(counts);
    free(displs);
    free(mine);
    return rc;
}

static int attr_u64(hid_t obj, const char *name, uint64_t v) {
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, H5T_STD_U64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a >= 0 ? H5Awrite(a, H5T_NATIVE_UINT64, &v) : -1;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return e < 0 ? LM_EH5 : LM_OK;
}

int lm_io_snapshots_write(const char *path, int n, const int *trial, const void *const *data,
                          const size_t *bytes) {
    meta *all = NULL;
    int total = 0, first = 0;
    LM_CALL(gather(n, trial, data, bytes, &all, &total, &first));
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_mpio(fapl, MPI_COMM_WORLD, MPI_INFO_NULL);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (f < 0) {
        free(all);
        LM_FAIL(LM_EIO, "%s: cannot create (collective write of the workers' snapshots)", path);
    }
    int rc = LM_OK;
    hid_t g = H5Gcreate2(f, "snapshots", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) rc = LM_EH5;
    for (int i = 0; rc == LM_OK && i < total; i++) {
        char name[64];
        snprintf(name, sizeof name, "trial%lld", (long long)all[i].trial);
        hsize_t dim = all[i].bytes;
        hid_t sp = H5Screate_simple(1, &dim, NULL);
        hid_t d = H5Dcreate2(g, name, H5T_STD_U8LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Sclose(sp);
        if (d < 0) {
            rc = LM_EH5;
            break;
        }
        if (attr_u64(d, "bytes", all[i].bytes) < 0 || attr_u64(d, "checksum", all[i].checksum) < 0)
            rc = LM_EH5;
        /* Only the owner writes the bytes: an independent transfer. */
        if (rc == LM_OK && i >= first && i < first + n && all[i].bytes > 0 &&
            H5Dwrite(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, data[i - first]) < 0)
            rc = LM_EH5;
        H5Dclose(d);
    }
    if (rc == LM_OK) {
        if (attr_u64(f, "count", (uint64_t)total) < 0 || attr_u64(f, "complete", 1) < 0)
            rc = LM_EH5;
    }
    if (g >= 0) H5Gclose(g);
    if (H5Fclose(f) < 0) rc = LM_EH5;
    free(all);
    H5Eclear2(H5E_DEFAULT);
    LM_CHECK(rc == LM_OK, LM_EH5, "%s: writing the workers' snapshots failed", path);
    return LM_OK;
}

/* ---- reading (serial, any rank) ---- */

static int read_u64_attr(hid_t obj, const char *name, uint64_t *v) {
    if (H5Aexists(obj, name) <= 0) return LM_ECKPT;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return LM_ECKPT;
    herr_t e = H5Aread(a, H5T_NATIVE_UINT64, v);
    H5Aclose(a);
    return e < 0 ? LM_ECKPT : LM_OK;
}

static int open_checked(const char *path, hid_t *out) {
    lm__h5 f;
    memset(&f, 0, sizeof f);
    f.id = H5I_INVALID_HID;
    LM_CALL(lm__h5_open(&f, path, LM_ECKPT));
    uint64_t complete = 0;
    if (read_u64_attr(f.id, "complete", &complete) < 0 || complete != 1) {
        lm__h5_close(&f);
        LM_FAIL(LM_ECKPT, "checkpoint %s is incomplete or corrupt: no completion marker", path);
    }
    *out = f.id;
    return LM_OK;
}

int lm_io_snapshots_list(const char *path, int **trials, int *n) {
    hid_t f;
    LM_CALL(open_checked(path, &f));
    uint64_t count = 0;
    int rc = read_u64_attr(f, "count", &count);
    if (rc == LM_OK && count > SNAP_COUNT_MAX) rc = LM_ECKPT;
    int *v = NULL;
    int k = 0;
    hid_t g = rc == LM_OK ? H5Gopen2(f, "snapshots", H5P_DEFAULT) : -1;
    if (g < 0) rc = LM_ECKPT;
    if (rc == LM_OK) {
        H5G_info_t info;
        if (H5Gget_info(g, &info) < 0 || info.nlinks != count) rc = LM_ECKPT;
        v = malloc((size_t)(count ? count : 1) * sizeof *v);
        if (!v) rc = LM_ENOMEM;
        for (hsize_t i = 0; rc == LM_OK && i < count; i++) {
            char name[64];
            if (H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name,
                                   H5P_DEFAULT) < 0 ||
                sscanf(name, "trial%d", &v[k]) != 1 || v[k] < 0)
                rc = LM_ECKPT;
            else
                k++;
        }
    }
    if (g >= 0) H5Gclose(g);
    H5Fclose(f);
    H5Eclear2(H5E_DEFAULT);
    if (rc < 0) {
        free(v);
        LM_FAIL(rc, "checkpoint %s is incomplete or corrupt: bad snapshot list", path);
    }
    *trials = v;
    *n = k;
    return LM_OK;
}

int lm_io_snapshot_read(const char *path, int trial, void **data, size_t *n) {
    hid_t f;
    LM_CALL(open_checked(path, &f));
    char name[64];
    snprintf(name, sizeof name, "snapshots/trial%d", trial);
    int rc = LM_OK;
    void *buf = NULL;
    uint64_t bytes = 0, sum = 0;
    hid_t d = H5Lexists(f, "snapshots", H5P_DEFAULT) > 0 && H5Lexists(f, name, H5P_DEFAULT) > 0
                  ? H5Dopen2(f, name, H5P_DEFAULT)
                  : -1;
    if (d < 0 || read_u64_attr(d, "bytes", &bytes) < 0 || read_u64_attr(d, "checksum", &sum) < 0 ||
        bytes > SNAP_MAX)
        rc = LM_ECKPT;
    if (rc == LM_OK) {
        hid_t sp = H5Dget_space(d);
        hssize_t npts = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
        if (sp >= 0) H5Sclose(sp);
        if (npts < 0 || (uint64_t)npts != bytes) rc = LM_ECKPT;
    }
    if (rc == LM_OK && !(buf = malloc(bytes ? bytes : 1))) rc = LM_ENOMEM;
    if (rc == LM_OK && bytes && H5Dread(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
        rc = LM_ECKPT;
    if (rc == LM_OK && lm_fnv1a64(LM_FNV1A64_INIT, buf, bytes) != sum) rc = LM_ECKPT;
    if (d >= 0) H5Dclose(d);
    H5Fclose(f);
    H5Eclear2(H5E_DEFAULT);
    if (rc < 0) {
        free(buf);
        LM_FAIL(rc, "checkpoint %s is incomplete or corrupt: snapshot of trial %d unreadable or "
                    "its checksum differs",
                path, trial);
    }
    *data = buf;
    *n = bytes;
    return LM_OK;
}
