import ArgumentParser
import Foundation
import ReservoirTraining

extension TrainRingCommand {
    /// Ranges, names and the options each mode and strategy refuses (naming why).
    func validate() throws {
        for option in [
            NumericOption("--budget", budget.map(Double.init), 2...1e9),
            NumericOption("--device-seconds", deviceSeconds, 0.001...1e7),
            NumericOption("--batch", batch.map(Double.init), 1...1e6),
            NumericOption("--drive-directions", driveDirections.map(Double.init), 1...64), NumericOption("--sigma", sigma, 1e-12...10),
            NumericOption("--sigma-multiple", sigmaMultiple, 1e-3...1e3),
            NumericOption("--lr", lr, 1e-12...10), NumericOption("--readout-lr", readoutLR, 0...10),
            NumericOption("--weight-decay", weightDecay, 0...1e6),
            NumericOption("--pre-hidden", preHidden.map(Double.init), 0...4_096),
            NumericOption("--input-noise", inputNoise, 0...10),
            NumericOption("--shots", shots.map(Double.init), 1...1_000),
            NumericOption("--nodes", nodes.map(Double.init), 1...4_096), NumericOption("--feedback", feedback, -100...100),
        ] { try option.check() }
        guard let mode = RingSettings.Mode(rawValue: mode) else {
            throw ValidationError("--mode must be pgt-hybrid, pgt, readout or static-curve; found \(self.mode)")
        }
        guard ["digits", "moons", "sine-square", "narma10"].contains(task) || task.hasPrefix("csv:") else {
            throw ValidationError("--task must be digits, moons, sine-square, narma10 or csv:PATH; found \(task)")
        }
        let sequence = task == "sine-square" || task == "narma10"
        if let perturb {
            guard let value = RingSettings.Perturbation(rawValue: perturb) else {
                throw ValidationError("--perturb must be parameters or drive; found \(perturb)")
            }
            try refuse(mode != .pgtHybrid, "--perturb", "to --mode \(mode.rawValue) (pgt-hybrid chooses where its perturbation lives)")
            try refuse(value == .drive && sequence, "--perturb", "as drive to a sequence task (a drive moves later rows' states)")
        }
        try refuse(inputNoise != nil && sequence, "--input-noise", "to a sequence task (its inputs are its signal)")
        try refuse(common.validation && sequence, "--validation", "to a sequence task (it is carved from independent samples)")
        try refuse(sigma != nil && sigmaMultiple != nil, "--sigma-multiple", "with --sigma (σ is given, not calibrated)")
        let drive =
            mode == .pgtHybrid
            && (perturb.flatMap(RingSettings.Perturbation.init(rawValue:))
                ?? RingSettings.defaultPerturbation(sequence: sequence)) == .drive
        try refuse(drive && perSample != nil, "--per-sample/--no-per-sample", "to drive-space perturbation (one drive direction per sample, always)")
        try refuse(!drive && driveDirections != nil, "--drive-directions", "without drive-space perturbation")
        try refuse(!drive && directionKind != nil, "--direction-kind", "without drive-space perturbation")
        if let directionKind {
            guard let kind = RingSettings.DriveDirectionKind(rawValue: directionKind) else {
                throw ValidationError("--direction-kind must be rademacher, gaussian or orthogonal; found \(directionKind)")
            }
            let samples = batch ?? RingSettings().batch
            let nodes = nodes ?? RingSettings().nodes
            try refuse(
                kind == .orthogonal && samples > nodes, "--direction-kind orthogonal",
                "to a batch of \(samples) in \(nodes) drive dimensions (at most N orthogonal directions)")
        }
        try refuse(budget != nil && deviceSeconds != nil, "--device-seconds", "with --budget (one budget, please)")
        if mode == .readout {
            for (given, name) in [
                (budget != nil, "--budget"), (deviceSeconds != nil, "--device-seconds"), (batch != nil, "--batch"),
                (sigma != nil, "--sigma"), (sigmaMultiple != nil, "--sigma-multiple"), (lr != nil, "--lr"),
                (readoutLR != nil, "--readout-lr"), (weightDecay != nil, "--weight-decay"),
                (perSample != nil, "--per-sample/--no-per-sample"), (inputNoise != nil, "--input-noise"),
            ] { try refuse(given, name, "to --mode readout (the pre-layer stays the fixed mask; the readout is a ridge fit)") }
        }
        if mode == .staticCurve {
            try refuse(sequence, "--mode static-curve", "to a sequence task (the static curve has no memory)")
            for (given, name) in [
                (budget != nil, "--budget"), (deviceSeconds != nil, "--device-seconds"), (sigma != nil, "--sigma"),
                (sigmaMultiple != nil, "--sigma-multiple"), (perSample != nil, "--per-sample/--no-per-sample"),
            ] {
                try refuse(
                    given, name, "to --mode static-curve (trained offline through the calibrated curve, no device time)")
            }
        }
        if mode == .pgt {
            try refuse(readoutLR != nil, "--readout-lr", "to --mode pgt (the readout is perturbed with the pre-layer)")
            try refuse(weightDecay != nil, "--weight-decay", "to --mode pgt (the readout has no Adam of its own)")
        }
        try refuse(
            perSample != nil && (sequence || (preHidden ?? 0) > 0), "--per-sample/--no-per-sample",
            "to a sequence task or a pre-layer with a hidden layer (one direction per batch there)")
    }

}
