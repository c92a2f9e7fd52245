import CBLAS

/// Every call into OpenBLAS goes through this file (docs/architecture.md, convention 1).
enum BLASCalls {
    /// One thread: the matrices are small, and a fixed summation order keeps runs bit-exact.
    static let singleThreaded: Void = { openblas_set_num_threads(1) }()

    /// C (m×n) = alpha·op(A)·op(B) + beta·C, row-major (`cblas_dgemm`).
    @inline(__always)
    static func multiply(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Double,
        a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int, beta: Double,
        c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        _ = singleThreaded
        cblas_dgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// C (m×n) = A·Bᵀ in single precision, row-major (`cblas_sgemm`): the forward pass's
    /// product of a batch (m × k) with a weight matrix (n × k).
    @inline(__always)
    static func multiplySingle(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        _ = singleThreaded
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), 0,
            c, Int32(ldc))
    }
}
