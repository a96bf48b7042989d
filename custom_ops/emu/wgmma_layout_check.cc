// CPU check of the wgmma form's shared-memory layouts (tucker_conv_wgmma.cuh), which no CPU test can run: every (row,
// 16-byte group) of a tile lands on its own slot inside the tile (a permutation: no two copies overwrite each other), a
// row's groups stay inside its own 64 bytes (K-major) or its 8-row atom (N-major), 8-row groups are the descriptor's
// stride apart, and the 8 rows of one 16-byte column fall in 8 distinct 16-byte bank groups (what the 64-byte swizzle
// is for: without it wgmma's reads of a column serialise, session 23 call 3). Also fp32 stage 1's copies of its raw B
// tile (4 rows x 128 contiguous bytes per warp, conflict-free reads), the loads of its register operand from that tile
// (each value once per warpgroup chunk, each load conflict-free) and the epilogue's writes of its transposed
// accumulators (each output once). Exits 1 on a failure.
#include <cstdio>
#include <set>

#include "cuda_emu.h"
#include "tucker_conv_staged_layout.h"
#include "tucker_conv_wgmma.cuh"

using namespace tucker_cuda;

static int fails = 0;
#define CHECK(c, ...)                   \
  do {                                  \
    if (!(c)) {                         \
      std::printf("FAIL " __VA_ARGS__); \
      std::printf("\n");                \
      ++fails;                          \
    }                                   \
  } while (0)

int main() {
  for (int rows : {32, 64, 128}) {  // K-major tiles: rows x 4 groups (one 64-byte step)
    std::set<int> seen;
    for (int r = 0; r < rows; ++r)
      for (int g = 0; g < 4; ++g) {
        const int slot = WgmmaSw64(r, g, 1);
        CHECK(slot / 4 == r, "K-major rows %d: row %d group %d left its row (slot %d)", rows, r, g, slot);
        seen.insert(slot);
      }
    CHECK(static_cast<int>(seen.size()) == 4 * rows && *seen.rbegin() == 4 * rows - 1, "K-major rows %d: not a permutation", rows);
    for (int g = 0; g < 4; ++g)
      for (int r0 = 0; r0 < rows; r0 += 8) {
        std::set<int> banks;
        for (int r = r0; r < r0 + 8; ++r) banks.insert(WgmmaSw64(r, g, 1) % 8);
        CHECK(banks.size() == 8, "K-major: column %d of rows %d.. shares bank groups", g, r0);
        CHECK(WgmmaSw64(r0, 0, 1) == r0 * 4 && (r0 * 4 * 16) % 512 == 0, "K-major: 8-row group %d not 512 bytes apart", r0);
      }
    CHECK(WgmmaSw64(5, 2, 8) == 8 * WgmmaSw64(5, 2, 1), "K-major: elements per group");
  }
  for (int nw : {32, 64, 128}) {  // N-major tiles: 32 rows (one fp16 step) x nw / 8 groups
    std::set<int> seen;
    for (int k = 0; k < 32; ++k)
      for (int n8 = 0; n8 < nw / 8; ++n8) {
        const int slot = WgmmaSw64Mn(k, n8, nw, 1);
        const int atom = slot / 32;  // 512 bytes
        CHECK(atom == (k / 8) * (nw / 32) + n8 / 4, "N-major nw %d: k %d n8 %d outside its atom", nw, k, n8);
        CHECK(slot % 32 / 4 == k % 8, "N-major nw %d: k %d n8 %d outside its 64-byte row", nw, k, n8);
        seen.insert(slot);
      }
    CHECK(static_cast<int>(seen.size()) == 32 * nw / 8 && *seen.rbegin() == 32 * nw / 8 - 1, "N-major nw %d: not a permutation", nw);
    for (int n8 = 0; n8 < nw / 8; ++n8)
      for (int k0 = 0; k0 < 32; k0 += 8) {
        std::set<int> banks;
        for (int k = k0; k < k0 + 8; ++k) banks.insert(WgmmaSw64Mn(k, n8, nw, 1) % 8);
        CHECK(banks.size() == 8, "N-major nw %d: columns %d of rows %d.. share bank groups", nw, 8 * n8, k0);
      }
    // the descriptor's offsets: atoms along n 512 bytes apart, 8-row groups nw / 32 atoms apart
    if (nw > 32) CHECK(WgmmaSw64Mn(0, 4, nw, 1) * 16 == 512, "N-major nw %d: n-atom stride", nw);
    CHECK(WgmmaSw64Mn(8, 0, nw, 1) * 16 == nw / 32 * 512, "N-major nw %d: 8-row group stride", nw);
  }
  for (int bn : {64, 128}) {  // fp32 stage 1's copies (NhwcT1*) and register-operand loads: 16 rows x bn / 4 groups
    const int groups = 16 * bn / 4, ld = StagedNhwcRawBLd(bn);
    std::set<int> copied;
    for (int w0 = 0; w0 < groups; w0 += 32) {  // one warp's copy: lanes w0 .. w0 + 31
      std::set<int> rows, runs;  // runs: (row, group / 8), 128 contiguous bytes of one input channel
      for (int l = 0; l < 32; ++l) {
        const int k = NhwcT1Row(w0 + l), g = NhwcT1Group(w0 + l);
        copied.insert(k * (bn / 4) + g);
        rows.insert(k);
        runs.insert(k * 64 + g / 8);
      }
      CHECK(rows.size() == 4 && runs.size() == 4, "T1 bn %d: copy %d is not 4 rows x 128 contiguous bytes", bn, w0 / 32);
      for (int q = 0; q < 4; ++q) {  // a 16-byte write takes a quarter warp at a time: 8 lanes, 32 distinct banks
        std::set<int> banks;
        for (int l = 8 * q; l < 8 * q + 8; ++l)
          for (int i = 0; i < 4; ++i) banks.insert((NhwcT1Row(w0 + l) * ld + 4 * NhwcT1Group(w0 + l) + i) % 32);
        CHECK(banks.size() == 32, "T1 bn %d: copy %d quarter %d writes share banks", bn, w0 / 32, q);
      }
    }
    CHECK(static_cast<int>(copied.size()) == groups, "T1 bn %d: copies miss groups", bn);
    // the register operand (kT1's t1_frags): warp w % 4 of a warpgroup, K slice q, register i of lane l reads
    // B[8q + WgmmaRegACol(l, i)][c0 + 16 (w % 4) + WgmmaRegARow(l, i)] of its 64-column chunk
    std::set<int> read;
    for (int w = 0; w < 4; ++w)
      for (int q = 0; q < 2; ++q)
        for (int i = 0; i < 4; ++i) {
          std::set<int> banks;
          for (int l = 0; l < 32; ++l) {
            const int k = 8 * q + WgmmaRegACol(l, i), c = 16 * w + WgmmaRegARow(l, i);
            banks.insert((k * ld + c) % 32);
            read.insert(k * 64 + c);
          }
          CHECK(banks.size() == 32, "T1 bn %d: register loads of warp %d, slice %d, register %d share banks", bn, w, q, i);
        }
    CHECK(read.size() == 16 * 64 && *read.rbegin() == 16 * 64 - 1, "T1 bn %d: register loads miss values", bn);
  }
  {  // kT1's store_t1: a warpgroup's 4 warps x 32 lanes x 32 accumulators cover its 64 columns x 64 channels once
    std::set<int> out;
    for (int w = 0; w < 4; ++w)
      for (int l = 0; l < 32; ++l)
        for (int e = 0; e < 32; ++e) out.insert((16 * w + WgmmaRow(l, e)) * 64 + WgmmaCol(l, e));
    CHECK(out.size() == 64 * 64 && *out.rbegin() == 64 * 64 - 1, "T1: transposed accumulators miss outputs");
  }
  std::set<int> cells;  // the accumulator layout: 32 lanes x 4 values cover a warp's 16 rows x 8 columns once
  for (int l = 0; l < 32; ++l)
    for (int e = 0; e < 4; ++e) cells.insert(WgmmaRow(l, e) * 8 + WgmmaCol(l, e));
  CHECK(cells.size() == 128 && *cells.rbegin() == 127, "accumulator layout");
  std::printf(fails ? "%d failures\n" : "OK\n", fails);
  return fails ? 1 : 0;
}
