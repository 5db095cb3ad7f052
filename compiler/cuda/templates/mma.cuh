// mma.cuh - the tensor-core instructions the official GEMM tiles use:
// D += A·B for a 16x32 A (row) and 32x8 B (col) of e4m3 with fp32 C/D, or of
// s8 with s32 C/D (mma.sync m16n8k32, sm_89+); and for a 16x16 A and 16x8 B
// of bf16 with fp32 C/D (m16n8k16: linear_bf16_mma.cuh). Both have the same fragments,
// as in the PTX ISA: a[0..3] rows g, g+8 by k 4tq.. and 16+4tq..; b0/b1 k
// 4tq.. and 16+4tq.. of column g; d rows g (d0, d1) and g+8 (d2, d3),
// columns 2tq, 2tq+1.
#pragma once

namespace bk {

__device__ __forceinline__ void mmaE4m3(float (&d)[4], const unsigned (&a)[4],
                                        unsigned b0, unsigned b1) {
  asm volatile("mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 "
               "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
               "{%0, %1, %2, %3};\n"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ void mmaS8(int (&d)[4], const unsigned (&a)[4],
                                      unsigned b0, unsigned b1) {
  asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 "
               "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
               "{%0, %1, %2, %3};\n"
               : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// m16n8k16 bf16: a[0..3] rows g, g+8 by k 2tq.. and 8+2tq..; b0/b1 k 2tq..
// and 8+2tq.. of column g; d as above.
__device__ __forceinline__ void mmaBf16(float (&d)[4], const unsigned (&a)[4],
                                        unsigned b0, unsigned b1) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
               "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
               "{%0, %1, %2, %3};\n"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

} // namespace bk
