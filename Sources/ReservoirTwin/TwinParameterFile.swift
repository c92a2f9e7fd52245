extension TwinParameters {
    /// The parameter file of these parameters, in the layout of hardware/twin/ring-default.yaml
    /// (faults are not written: a fitted twin starts healthy). Numbers are written in Swift's
    /// shortest exact form, so reading the file back gives these parameters exactly.
    public func yaml(header: String) -> String {
        func converter(_ c: Converter) -> [String] {
            [
                "  bits: \(c.format.bits)", "  reference_volts: \(c.format.reference.value)",
                "  gain_error: \(c.gainError)", "  offset_volts: \(c.offsetVolts)",
            ]
        }
        var lines = header.split(separator: "\n", omittingEmptySubsequences: false).map { "# \($0)" }
        lines += [
            "ring:",
            "  round_trip_seconds: \(roundTripSeconds)",
            "  saturation_beta: \(saturation)",
            "  nonlinear_phase_rad_per_second: \(nonlinearPhaseRadiansPerSecond)",
            "  noise_strength_per_second: \(noiseStrengthPerSecond)",
            "attenuator:",
            "  gain_min: \(attenuator.gainMin)",
            "  gain_max: \(attenuator.gainMax)",
            "  mid_volts: \(attenuator.midVolts)",
            "  width_volts: \(attenuator.widthVolts)",
            "dac_filter_hz: \(dacFilterHertz)",
            "gain_drift:",
            "  std: \(driftStd)",
            "  time_constant_seconds: \(driftTimeConstantSeconds)",
            "detector:",
            "  max_volts: \(detector.maxVolts)",
            "  power_scale: \(detector.powerScale)",
            "  video_filter_hz: \(detector.videoFilterHertz)",
            "  noise_volts_rms: \(detector.noiseVoltsRMS)",
            "adc:",
        ]
        lines += converter(adc) + ["  latency_samples: \(adcLatencySamples)", "dac:"] + converter(dac)
        lines += [
            "sample_rate_hz: \(sampleRate.value)", "substeps: \(substeps)", "track_phase: \(tracksPhase)", "faults: []",
        ]
        return lines.joined(separator: "\n") + "\n"
    }
}
