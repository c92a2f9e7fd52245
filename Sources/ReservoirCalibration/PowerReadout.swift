import RealModule
import ReservoirHAL

/// Converts ADC volts back to the ring's circulating power through the detector chain:
/// V_video = (V_adc − offset)/(1 + ε_adc), then the diode curve inverted,
/// P = −P_d·ln(1 − V_video/V_max).
///
/// On the twin the constants come from its parameter file; on hardware, from calibration.
public struct PowerReadout: Sendable, Equatable {
    /// ADC gain error ε_adc.
    public var adcGainError: Double
    /// ADC offset in volts.
    public var adcOffsetVolts: Double
    /// Diode saturation voltage V_max.
    public var diodeMaxVolts: Double
    /// Diode power scale P_d.
    public var diodePowerScale: Double

    /// A readout with these constants.
    public init(adcGainError: Double, adcOffsetVolts: Double, diodeMaxVolts: Double, diodePowerScale: Double) {
        self.adcGainError = adcGainError
        self.adcOffsetVolts = adcOffsetVolts
        self.diodeMaxVolts = diodeMaxVolts
        self.diodePowerScale = diodePowerScale
    }

    /// The power behind one ADC reading. Readings at or above the diode's ceiling map to the
    /// power where the curve is within 1e-12 of it (the inversion is unbounded there).
    @inline(__always)
    public func power(fromADC volts: Volts) -> Double {
        let video = (volts.value - adcOffsetVolts) / (1 + adcGainError)
        let ratio = min(video / diodeMaxVolts, 1 - 1e-12)
        return -diodePowerScale * Double.log(onePlus: -ratio)
    }
}
