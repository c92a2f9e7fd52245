import Foundation
import ReservoirTraining
import Testing

/// The run plots' axes: round ticks that cover the data, x from zero, decades on a log axis,
/// the legend outside the plotting area.
@Suite struct SVGPlotTests {
    @Test func linearTicksAreRoundAndCoverTheRange() {
        #expect(SVGPlot.linearTicks(0, 97) == [0, 20, 40, 60, 80, 100])
        #expect(SVGPlot.linearTicks(0, 300) == [0, 100, 200, 300])
        #expect(SVGPlot.linearTicks(0.9, 0.975, count: 6).first! <= 0.9)
        #expect(SVGPlot.linearTicks(0.9, 0.975, count: 6).last! >= 0.975)
        let ticks = SVGPlot.linearTicks(0.9, 0.975)
        let steps = zip(ticks.dropFirst(), ticks).map { $0 - $1 }
        #expect(steps.allSatisfy { abs($0 - 0.02) < 1e-12 }, "\(ticks)")
    }

    @Test func logarithmicTicksAreDecadesWithTwoAndFiveWhenFew() {
        #expect(SVGPlot.logarithmicTicks(0.15, 2.3) == [0.1, 0.2, 0.5, 1, 2, 5, 10])
        #expect(SVGPlot.logarithmicTicks(1e-4, 3) == [1e-4, 1e-3, 1e-2, 1e-1, 1, 10])
    }

    @Test func theLossPlotIsLogarithmicFromZeroWithTheLegendBesideTheData() {
        let plot = SVGPlot(
            title: "Loss", xLabel: "training drive on the device (s)", yLabel: "loss (cross-entropy, nats)",
            logarithmicY: true,
            series: [.init(name: "train", x: [1, 2, 3], y: [2, 0.5, 0.1]), .init(name: "test", x: [1, 2, 3], y: [2.1, 0.6, 0.2])])
        let svg = plot.svg()
        #expect(svg.contains("log scale"))
        #expect(svg.contains("training drive on the device (s)"))
        #expect(svg.contains(">0</text>"), "x starts at zero")
        // Every legend entry starts right of the plotting area.
        let legendX = svg.components(separatedBy: "<text x=\"").dropFirst().compactMap { Double($0.prefix { $0 != "\"" }) }
        #expect(legendX.filter { $0 > SVGPlot.right }.count == 2)
        let points = svg.components(separatedBy: "points=\"").dropFirst().flatMap {
            $0.prefix { $0 != "\"" }.split(separator: " ").map { $0.split(separator: ",").compactMap { Double($0) } }
        }
        #expect(points.allSatisfy { $0[0] >= SVGPlot.left && $0[0] <= SVGPlot.right && $0[1] >= SVGPlot.top && $0[1] <= SVGPlot.bottom })
    }
}
