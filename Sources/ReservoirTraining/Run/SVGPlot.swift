import Foundation

/// A line plot a scientist keeps, as SVG text: a title, both axes labelled with their units and
/// ticked at round values, x from zero, y linear or logarithmic (loss), and the legend beside
/// the plotting area so it never covers the data.
public struct SVGPlot {
    public struct Series {
        public var name: String
        public var x: [Double]
        public var y: [Double]

        public init(name: String, x: [Double], y: [Double]) {
            self.name = name
            self.x = x
            self.y = y
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var logarithmicY: Bool
    public var series: [Series]

    public init(title: String, xLabel: String, yLabel: String, logarithmicY: Bool, series: [Series]) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.logarithmicY = logarithmicY
        self.series = series
    }

    static let colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    // The plotting area inside a 720 × 440 canvas; the legend sits right of it.
    public static let width = 720.0, height = 440.0
    public static let left = 78.0, right = 560.0, top = 48.0, bottom = 372.0

    /// Round tick values covering [low, high]: steps of 1, 2 or 5 × 10ᵏ, about `count` of them.
    public static func linearTicks(_ low: Double, _ high: Double, count: Int = 6) -> [Double] {
        guard high > low, low.isFinite, high.isFinite else { return [low] }
        let raw = (high - low) / Double(max(count - 1, 1))
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        let first = floor(low / step + 1e-9) * step
        let last = ceil(high / step - 1e-9) * step
        return stride(from: first, through: last + step / 2, by: step).map { abs($0) < step * 1e-9 ? 0 : $0 }
    }

    /// Decades covering [low, high] (low > 0), with 2 and 5 between them when there are few.
    public static func logarithmicTicks(_ low: Double, _ high: Double) -> [Double] {
        let first = floor(log10(low) + 1e-9)
        let last = max(ceil(log10(high) - 1e-9), first + 1)
        let decades = stride(from: first, through: last, by: 1).map { pow(10, $0) }
        guard decades.count <= 3 else { return decades }
        return decades.flatMap { decade in [decade, 2 * decade, 5 * decade] }.filter { $0 <= decades.last! }
    }

    static func label(_ value: Double) -> String {
        if value == 0 { return "0" }
        let magnitude = abs(value)
        if magnitude >= 1e5 || magnitude < 1e-3 { return String(format: "%.0e", value) }
        if magnitude >= 1000 { return String(format: "%.0f", value) }
        return String(format: "%g", (value * 1e6).rounded() / 1e6)
    }

    public func svg() -> String {
        let finite = series.flatMap { zip($0.x, $0.y).filter { $0.0.isFinite && $0.1.isFinite } }
        let logarithmic = logarithmicY && finite.allSatisfy { $0.1 > 0 }
        let xTicks = Self.linearTicks(0, max(finite.map(\.0).max() ?? 1, 1e-9))
        let yValues = finite.map(\.1)
        let yTicks =
            logarithmic
            ? Self.logarithmicTicks(yValues.min() ?? 0.1, yValues.max() ?? 1)
            : Self.linearTicks(yValues.min() ?? 0, max(yValues.max() ?? 1, (yValues.min() ?? 0) + 1e-9))
        let (xLow, xHigh) = (xTicks.first ?? 0, xTicks.last ?? 1)
        let transform: (Double) -> Double = logarithmic ? { log10($0) } : { $0 }
        let (yLow, yHigh) = (transform(yTicks.first ?? 0), transform(yTicks.last ?? 1))
        func sx(_ x: Double) -> Double { Self.left + (x - xLow) / max(xHigh - xLow, 1e-300) * (Self.right - Self.left) }
        func sy(_ y: Double) -> Double {
            Self.bottom - (transform(y) - yLow) / max(yHigh - yLow, 1e-300) * (Self.bottom - Self.top)
        }
        func escaped(_ text: String) -> String {
            text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        }
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(Self.width))" height="\(Int(Self.height))" \
            viewBox="0 0 \(Int(Self.width)) \(Int(Self.height))" font-family="sans-serif">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(Int(Self.left))" y="28" font-size="17">\(escaped(title))</text>

            """
        for tick in xTicks {
            let x = sx(tick)
            svg += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e3e3e3\"/>\n", x, Self.top, x, Self.bottom)
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\">%@</text>\n", x, Self.bottom + 18, Self.label(tick))
        }
        for tick in yTicks {
            let y = sy(tick)
            svg += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e3e3e3\"/>\n", Self.left, y, Self.right, y)
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"end\">%@</text>\n", Self.left - 6, y + 4, Self.label(tick))
        }
        svg += String(
            format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"black\"/>\n",
            Self.left, Self.top, Self.right - Self.left, Self.bottom - Self.top)
        svg += String(
            format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" text-anchor=\"middle\">%@</text>\n",
            (Self.left + Self.right) / 2, Self.bottom + 44, escaped(xLabel))
        svg += String(
            format: "<text transform=\"translate(18 %.1f) rotate(-90)\" font-size=\"13\" text-anchor=\"middle\">%@%@</text>\n",
            (Self.top + Self.bottom) / 2, escaped(yLabel), logarithmic ? " — log scale" : "")
        for (index, line) in series.enumerated() {
            let colour = Self.colours[index % Self.colours.count]
            let points = zip(line.x, line.y).filter { $0.0.isFinite && $0.1.isFinite && (!logarithmic || $0.1 > 0) }
                .map { String(format: "%.1f,%.1f", sx($0.0), sy($0.1)) }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\" points=\"\(points)\"/>\n"
            let y = Self.top + 14 + 22 * Double(index)
            svg += String(
                format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%@\" stroke-width=\"3\"/>\n",
                Self.right + 16, y - 4, Self.right + 40, y - 4, colour)
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\">%@</text>\n", Self.right + 46, y, escaped(line.name))
        }
        return svg + "</svg>\n"
    }
}
