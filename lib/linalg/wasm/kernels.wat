;; Float64 SIMD kernels for stages/linalg (assembled by build.ts into kernels.ts).
;;
;; gemm4: C ← C − A·B on a block whose height M and width N are multiples of 4, the inner
;; step of blocked Cholesky, triangular solves and matrix products:
;;
;;     C[i, j] −= Σ_{m<K} A[i·sai + m·sam] · B[m·ldb + j]       0 ≤ i < M, 0 ≤ j < N
;;
;; Offsets (c, a, b) and strides count float64 elements of the exported memory. A is read
;; through two strides so that the same kernel serves A, Aᵀ and any row-major block; B's
;; rows and C's rows are contiguous. Each 4×4 tile of C is held in eight f64x2 registers
;; over the whole K loop: per step, 2 vector loads of B, 4 broadcast loads of A (v128.load64_splat), 8 mul + 8 add.
;; Loop order: tile rows outer, tile columns inner, so a 4×K strip of A stays in L1 while
;; B (K × N, kept ≤ ~1 MB by the caller) streams from L2.
(module
  (memory (export "memory") 1 65536)
  (func (export "gemm4")
    (param $c i32) (param $ldc i32) (param $a i32) (param $sai i32) (param $sam i32)
    (param $b i32) (param $ldb i32) (param $M i32) (param $N i32) (param $K i32)
    (local $i i32) (local $j i32) (local $m i32)
    (local $pa i32) (local $pa0 i32) (local $pb i32) (local $pc i32)
    (local $sai8 i32) (local $sai16 i32) (local $sai24 i32) (local $sam8 i32) (local $ldb8 i32) (local $ldc8 i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $x v128)
    (local.set $c (i32.shl (local.get $c) (i32.const 3)))
    (local.set $a (i32.shl (local.get $a) (i32.const 3)))
    (local.set $b (i32.shl (local.get $b) (i32.const 3)))
    (local.set $sai8 (i32.shl (local.get $sai) (i32.const 3)))
    (local.set $sai16 (i32.shl (local.get $sai) (i32.const 4)))
    (local.set $sai24 (i32.mul (local.get $sai) (i32.const 24)))
    (local.set $sam8 (i32.shl (local.get $sam) (i32.const 3)))
    (local.set $ldb8 (i32.shl (local.get $ldb) (i32.const 3)))
    (local.set $ldc8 (i32.shl (local.get $ldc) (i32.const 3)))
    (local.set $i (i32.const 0))
    (block $idone (loop $iloop
      (br_if $idone (i32.ge_u (local.get $i) (local.get $M)))
      (local.set $pa0 (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $sai8))))
      (local.set $j (i32.const 0))
      (block $jdone (loop $jloop
        (br_if $jdone (i32.ge_u (local.get $j) (local.get $N)))
        (local.set $c00 (v128.const i64x2 0 0)) (local.set $c01 (v128.const i64x2 0 0))
        (local.set $c10 (v128.const i64x2 0 0)) (local.set $c11 (v128.const i64x2 0 0))
        (local.set $c20 (v128.const i64x2 0 0)) (local.set $c21 (v128.const i64x2 0 0))
        (local.set $c30 (v128.const i64x2 0 0)) (local.set $c31 (v128.const i64x2 0 0))
        (local.set $pa (local.get $pa0))
        (local.set $pb (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 3))))
        (local.set $m (local.get $K))
        (block $mdone (loop $mloop
          (br_if $mdone (i32.eqz (local.get $m)))
          (local.set $b0 (v128.load (local.get $pb)))
          (local.set $b1 (v128.load offset=16 (local.get $pb)))
          (local.set $x (v128.load64_splat (local.get $pa)))
          (local.set $c00 (f64x2.add (local.get $c00) (f64x2.mul (local.get $x) (local.get $b0))))
          (local.set $c01 (f64x2.add (local.get $c01) (f64x2.mul (local.get $x) (local.get $b1))))
          (local.set $x (v128.load64_splat (i32.add (local.get $pa) (local.get $sai8))))
          (local.set $c10 (f64x2.add (local.get $c10) (f64x2.mul (local.get $x) (local.get $b0))))
          (local.set $c11 (f64x2.add (local.get $c11) (f64x2.mul (local.get $x) (local.get $b1))))
          (local.set $x (v128.load64_splat (i32.add (local.get $pa) (local.get $sai16))))
          (local.set $c20 (f64x2.add (local.get $c20) (f64x2.mul (local.get $x) (local.get $b0))))
          (local.set $c21 (f64x2.add (local.get $c21) (f64x2.mul (local.get $x) (local.get $b1))))
          (local.set $x (v128.load64_splat (i32.add (local.get $pa) (local.get $sai24))))
          (local.set $c30 (f64x2.add (local.get $c30) (f64x2.mul (local.get $x) (local.get $b0))))
          (local.set $c31 (f64x2.add (local.get $c31) (f64x2.mul (local.get $x) (local.get $b1))))
          (local.set $pa (i32.add (local.get $pa) (local.get $sam8)))
          (local.set $pb (i32.add (local.get $pb) (local.get $ldb8)))
          (local.set $m (i32.sub (local.get $m) (i32.const 1)))
          (br $mloop)))
        (local.set $pc (i32.add (local.get $c)
          (i32.add (i32.mul (local.get $i) (local.get $ldc8)) (i32.shl (local.get $j) (i32.const 3)))))
        (v128.store (local.get $pc) (f64x2.sub (v128.load (local.get $pc)) (local.get $c00)))
        (v128.store offset=16 (local.get $pc) (f64x2.sub (v128.load offset=16 (local.get $pc)) (local.get $c01)))
        (local.set $pc (i32.add (local.get $pc) (local.get $ldc8)))
        (v128.store (local.get $pc) (f64x2.sub (v128.load (local.get $pc)) (local.get $c10)))
        (v128.store offset=16 (local.get $pc) (f64x2.sub (v128.load offset=16 (local.get $pc)) (local.get $c11)))
        (local.set $pc (i32.add (local.get $pc) (local.get $ldc8)))
        (v128.store (local.get $pc) (f64x2.sub (v128.load (local.get $pc)) (local.get $c20)))
        (v128.store offset=16 (local.get $pc) (f64x2.sub (v128.load offset=16 (local.get $pc)) (local.get $c21)))
        (local.set $pc (i32.add (local.get $pc) (local.get $ldc8)))
        (v128.store (local.get $pc) (f64x2.sub (v128.load (local.get $pc)) (local.get $c30)))
        (v128.store offset=16 (local.get $pc) (f64x2.sub (v128.load offset=16 (local.get $pc)) (local.get $c31)))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $jloop)))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $iloop)))
  )
)
