package idcard

import "testing"

var (
	sinkRegion   Region
	sinkAnalysis Analysis
	sinkReport   Report
)

func BenchmarkLookupRegion(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkRegion, _ = LookupRegion("362324", 1985)
	}
}

func BenchmarkAnalyze(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkAnalysis = Analyze("440305199505132561", testNow)
	}
}

func BenchmarkAnalyzeLegacy15(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkAnalysis = Analyze("440305950513256", testNow)
	}
}

func BenchmarkExamine(b *testing.B) {
	front, back := goodFront(), goodBack()
	b.ReportAllocs()
	for b.Loop() {
		sinkReport = Examine(front, back, testNow)
	}
}
