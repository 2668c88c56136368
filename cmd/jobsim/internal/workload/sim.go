// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package workload

import (
	"math"
	"math/rand/v2"
	"time"
)

// What every system's simulator draws from a Scenario.

// rateAt is the class's enqueue rate (jobs/s) elapsed seconds into the
// simulation: Rate, swinging between 0.2x and 1.8x over Wave when set.
func (c *Class) rateAt(elapsed float64) float64 {
	if c.Wave <= 0 {
		return c.Rate
	}
	return c.Rate * (1 + 0.8*math.Sin(2*math.Pi*(elapsed/c.Wave.Seconds()+c.Phase)))
}

// runTime is how long one execution of class c takes; jobs of classes the
// scenario does not know (nil) run for a second.
func runTime(rng *rand.Rand, c *Class) time.Duration {
	if c == nil {
		return time.Second
	}
	return c.MinRun + time.Duration(rng.Int64N(int64(c.MaxRun-c.MinRun)+1))
}

// randomHex is n random bytes in hex, like Ruby's SecureRandom.hex(n).
func randomHex(rng *rand.Rand, n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 2*n)
	for i := range b {
		b[i] = digits[rng.IntN(16)]
	}
	return string(b)
}

// poisson draws the number of arrivals in an interval with mean lambda.
func poisson(rng *rand.Rand, lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	if lambda > 30 { // normal approximation; Knuth's loop underflows
		return max(0, int(math.Round(lambda+math.Sqrt(lambda)*rng.NormFloat64())))
	}
	limit, n, p := math.Exp(-lambda), 0, 1.0
	for {
		p *= rng.Float64()
		if p <= limit {
			return n
		}
		n++
	}
}
