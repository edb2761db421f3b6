package org.lponet.desktop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.lponet.core.Goldens.*;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.lponet.demo.engine.TfliteLandmarkModel;

/**
 * The app's int8 quantisation ({@link TfliteLandmarkModel#quantize} / {@code dequantize}) vs
 * the Python runner's, with the bundled int8 model's scales and zero points: .5 ties round
 * to even, values out of range clip, and every int8 code maps back to the same float.
 */
class QuantizationTest {
  @Test
  void quantiseAndDequantiseLikeThePythonRunner() {
    Map<String, Object> g = json("quant.json");
    float[] x = f32((String) g.get("x"));
    for (Object o : list(g.get("cases"))) {
      Map<String, Object> c = map(o);
      TfliteLandmarkModel.Quant q =
          new TfliteLandmarkModel.Quant((float) dbl(c.get("scale")), (int) dbl(c.get("zero_point")));
      double[] expQ = doubles(c.get("q"));
      byte[] gotQ = TfliteLandmarkModel.quantize(x, q);
      for (int i = 0; i < x.length; i++) {
        assertEquals((int) expQ[i], gotQ[i], c.get("name") + ": x = " + x[i]);
      }
      double[] expDq = doubles(c.get("dq"));
      byte[] codes = new byte[256];
      for (int i = 0; i < 256; i++) {
        codes[i] = (byte) (i - 128);
      }
      float[] gotDq = TfliteLandmarkModel.dequantize(codes, q);
      for (int i = 0; i < 256; i++) {
        assertEquals((float) expDq[i], gotDq[i], 0f, c.get("name") + ": code " + (i - 128));
      }
    }
  }
}
