import ReservoirHAL

/// READBUF and WRITEBUF: the streams of a session, in bounded steps.
extension IIODSession {
    // MARK: Streams

    func startReading(_ words: ArraySlice<Substring>) -> [UInt8] {
        guard words.count == 2, let count = count(words[words.startIndex + 1]) else { return reply(-22) }
        guard let device = context.device(words[words.startIndex]) else { return reply(-19) }
        guard let open = buffer, open.device.id == device.id, open.input != nil else { return reply(-9) }
        // libiio asks for one buffer's bytes; more is refused, not produced.
        guard count % 2 == 0, count <= open.samples * 2 else { return reply(-22) }
        guard count > 0 else { return reply(0) }
        reading = (count, true)
        return []
    }

    /// One chunk of the READBUF in progress: at most one refill of the server's chunk.
    func readChunk() -> [UInt8] {
        guard let (remaining, first) = reading, let open = buffer, let input = open.input else {
            reading = nil
            return reply(-9)
        }
        if open.held == 0 {
            do { try input.refill(open.chunk) } catch {
                reading = nil
                return reply(-Int(error.errno?.rawValue ?? 5))
            }
            open.held = open.chunk.count
        }
        let count = min(open.held, remaining / 2)
        let format = context.board.adc.format
        var output = Array("\(count * 2)\n".utf8)
        if first { output += Array("\(open.mask)\n".utf8) }
        output.reserveCapacity(output.count + count * 2)
        let offset = open.chunk.count - open.held
        for index in offset..<(offset + count) {
            let code = format.code(forVolts: open.chunk[index])
            output.append(UInt8(code & 0xff))
            output.append(UInt8((code >> 8) & 0xff))
        }
        open.held -= count
        context.samplesServed += count
        reading = remaining - count * 2 > 0 ? (remaining - count * 2, false) : nil
        return output
    }

    func startWriting(_ words: ArraySlice<Substring>) -> [UInt8] {
        guard words.count == 2, let count = count(words[words.startIndex + 1]) else { return reply(-22) }
        guard let device = context.device(words[words.startIndex]) else { return reply(-19) }
        guard let open = buffer, open.device.id == device.id, open.device.kind == .dac else { return reply(-9) }
        guard count % 2 == 0, count <= open.samples * 2 else { return reply(-22) }
        // A cyclic buffer takes one block; the board was driven safe since this stream opened.
        if open.cyclic && open.cyclicOutput != nil { return reply(-16) }
        if open.generation != context.forcedSafeCount { return reply(-32) }
        awaiting = .payload(remaining: count, total: count, error: nil)
        return reply(0)
    }

    /// Takes the WRITEBUF bytes that have arrived, pushing each block as it fills. Returns the
    /// instant to come back when a paced DAC queue is full.
    func takePayload(ignoringPace: Bool) -> Duration? {
        guard case .payload(var remaining, let total, var error) = awaiting else { return nil }
        defer { awaiting = .payload(remaining: remaining, total: total, error: error) }
        guard let open = buffer, open.device.kind == .dac else {
            // The buffer is gone: the bytes are still the client's payload; drop them.
            let taken = min(remaining, pendingBytes)
            start += taken
            remaining -= taken
            error = error ?? -9
            return nil
        }
        let format = context.board.dac.format
        let range = context.board.wiring.driveRange
        while true {
            if open.held == open.samples {
                if error == nil {
                    switch flush(open, ignoringPace: ignoringPace) {
                    case .wait(let until): return until
                    case .failed(let status): error = status
                    case .played: break
                    }
                }
                open.held = 0
            }
            guard remaining > 0, pendingBytes > 0 else { return nil }
            let byte = pending[start]
            start += 1
            remaining -= 1
            if let low = open.lowByte {
                open.lowByte = nil
                let code = min(Int(low) | Int(byte) << 8, format.maximumCode)
                open.chunk[open.held] = format.volts(forCode: code).clamped(to: range)
                open.held += 1
            } else {
                open.lowByte = byte
            }
        }
    }

    enum Flush {
        case played
        /// −errno for the WRITEBUF's reply.
        case failed(Int)
        /// A paced queue is full: retry at this instant.
        case wait(Duration)
    }

    /// Plays a full block: the cyclic block, or a push to the stream.
    func flush(_ open: OpenBuffer, ignoringPace: Bool) -> Flush {
        let block = UnsafeBufferPointer(open.chunk)
        do {
            if open.cyclic {
                guard open.cyclicOutput == nil else { return .failed(-16) }
                open.cyclicOutput = try context.board.dac.playCyclic(block)
            } else if let output = open.output {
                guard open.generation == context.forcedSafeCount else { return .failed(-32) }
                let blockTime = context.board.sampleRate.duration(of: SampleCount(open.samples))
                if context.timing.paced {
                    // Keep at most two blocks queued ahead of the converter (the twin's queue
                    // holds four): a fuller queue would block the board thread in push.
                    let now = context.board.clock.now()
                    let ready = open.fedUntil - blockTime * 2
                    if !ignoringPace && now < ready { return .wait(ready) }
                    open.fedUntil = max(open.fedUntil, now) + blockTime
                }
                try output.push(block)
            }
            context.appliedDACCode = context.board.dac.format.code(forVolts: block[block.count - 1])
        } catch {
            return .failed(-Int(error.errno?.rawValue ?? 5))
        }
        return .played
    }

    func closeBuffer() {
        guard let open = buffer else { return }
        open.input?.close()
        open.output?.close()
        open.cyclicOutput?.close()
        context.openDevices.remove(open.device.id)
        buffer = nil
        reading = nil
    }
}
