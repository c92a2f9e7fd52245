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

    @Test func roundingIsToNearestEven() {
        #expect(roundedToNearest(2.5) == 2)
        #expect(roundedToNearest(3.5) == 4)
        #expect(roundedToNearest(-1.4) == -1)
    }
}
