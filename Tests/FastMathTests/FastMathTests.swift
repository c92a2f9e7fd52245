import FastMath
import Foundation
import Testing

@Suite struct FastMathTests {
    @Test func fastExponentialAgreesWithLibm() {
        let exp = FastExp()
        var worst = 0.0
        var x = -40.0
        while x <= 40 {
            worst = max(worst, abs(exp(x) - Foundation.exp(x)) / Foundation.exp(x))
            x += 0.000_913
        }
        // A few ulp: the table entries and the product each round once (2.2e-16 per rounding).
        #expect(worst < 1e-15)
    }

    @Test func fastTanhAgreesWithLibmInAbsoluteTerms() {
        let exp = FastExp()
        var worst = 0.0
        var x = -25.0
        while x <= 25 {
            worst = max(worst, abs(exp.tanh(x) - Foundation.tanh(x)))
            x += 0.000_731
        }
        // Absolute: (e − 1)/(e + 1) rounds a few times near 1 in magnitude.
        #expect(worst < 1e-15)
        #expect(exp.tanh(0) == 0)
        #expect(exp.tanh(100) == 1 && exp.tanh(-100) == -1)
    }

    @Test func vectorExponentialAgreesWithLibm() {
        var worst = 0.0
        var x = -700.0
        while x <= 700 {
            let lanes = SIMD4<Double>(x, x + 0.1, x + 0.2, x + 0.3)
            let values = vectorExp(lanes)
            for lane in 0..<4 {
                let exact = Foundation.exp(lanes[lane])
                worst = max(worst, abs(values[lane] - exact) / exact)
            }
            x += 0.0713
        }
        #expect(worst < 1e-15)
        #expect(vectorExp(SIMD4<Double>.zero) == SIMD4(repeating: 1))
    }

    @Test func vectorTanhAgreesWithLibmInAbsoluteTerms() {
        var worst = 0.0
        var x = -25.0
        while x <= 25 {
            let lanes = SIMD4<Double>(x, -x / 3, x / 7, x * 1e-9)
            let values = vectorTanh(lanes)
            for lane in 0..<4 { worst = max(worst, abs(values[lane] - Foundation.tanh(lanes[lane]))) }
            x += 0.000_731
        }
        #expect(worst < 1e-15)
        #expect(vectorTanh(SIMD4(0, 100, -100, 1e300)) == SIMD4(0, 1, -1, 1))
    }

    @Test func singlePrecisionVectorFunctionsAgreeWithLibm() {
        var worstExp = 0.0
        var worstTanh = 0.0
        var x = -80.0
        while x <= 80 {
            let lanes = SIMD4<Float>(Float(x), Float(x / 9), Float(x / 40), Float(x * 1e-6))
            let e = vectorExp(lanes)
            let t = vectorTanh(lanes)
            for lane in 0..<4 {
                let exact = Foundation.exp(Double(lanes[lane]))
                worstExp = max(worstExp, abs(Double(e[lane]) - exact) / exact)
                worstTanh = max(worstTanh, abs(Double(t[lane]) - Foundation.tanh(Double(lanes[lane]))))
            }
            x += 0.00317
        }
        // Float's rounding is 6e-8 per operation; a few of them.
        #expect(worstExp < 5e-7)
        #expect(worstTanh < 3e-7)
        #expect(vectorTanh(SIMD4<Float>(0, 50, -50, 9.2)) == SIMD4(0, 1, -1, 1))
    }

    @Test func roundingIsToNearestEven() {
        #expect(roundedToNearest(2.5) == 2)
        #expect(roundedToNearest(3.5) == 4)
        #expect(roundedToNearest(-1.4) == -1)
    }
}
