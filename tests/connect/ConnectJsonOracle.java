// partsim's test oracle for connect-json keys: Kafka Connect's own JsonConverter.
//
// Reads one JSON object per line from stdin:
//   {"schemas": true|false, "schema": <a Connect schema as JsonConverter writes it, or null>,
//    "value": <the key in plain JSON>}
// and prints, per line, the key bytes JsonConverter (configured as a key converter) writes,
// in hex, or "ERROR <message>" when Connect refuses the value.
//
// The plain JSON value is turned into Connect data here, by the schema, independently of
// partsim: integers and floats from JSON numbers; bytes from base64 text; Decimal from
// decimal text (new BigDecimal(text) at the schema's scale); Date from "yyyy-mm-dd"; Time
// from "hh:mm:ss.fff"; Timestamp from an ISO instant; maps from a JSON object (string keys)
// or a list of [key, value] pairs, in the given order. Without a schema, JSON types map to
// Long, Double, String, Boolean, List and Map, as a schemaless connector would produce.
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.connect.data.Decimal;
import org.apache.kafka.connect.data.Field;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.json.JsonConverter;

public class ConnectJsonOracle {
    public static void main(String[] args) throws Exception {
        ObjectMapper mapper = new ObjectMapper();
        JsonConverter withSchemas = converter(true);
        JsonConverter withoutSchemas = converter(false);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        StringBuilder out = new StringBuilder();
        String line;
        while ((line = in.readLine()) != null) {
            try {
                JsonNode job = mapper.readTree(line);
                JsonConverter converter = job.get("schemas").asBoolean() ? withSchemas : withoutSchemas;
                JsonNode schemaNode = job.get("schema");
                Schema schema = schemaNode == null || schemaNode.isNull() ? null : withSchemas.asConnectSchema(schemaNode);
                Object value = toConnect(schema, job.get("value"));
                byte[] bytes = converter.fromConnectData("topic", schema, value);
                out.append(bytes == null ? "NULL" : hex(bytes)).append('\n');
            } catch (Exception e) {
                out.append("ERROR ").append(String.valueOf(e.getMessage()).replace('\n', ' ')).append('\n');
            }
        }
        System.out.print(out);
    }

    static JsonConverter converter(boolean schemas) {
        JsonConverter converter = new JsonConverter();
        Map<String, Object> config = new HashMap<>();
        config.put("schemas.enable", String.valueOf(schemas));
        converter.configure(config, true);
        return converter;
    }

    static String hex(byte[] bytes) {
        StringBuilder text = new StringBuilder();
        for (byte b : bytes) text.append(String.format("%02x", b));
        return text.toString();
    }

    static Object toConnect(Schema schema, JsonNode value) {
        if (value == null || value.isNull()) return null;
        if (schema == null) return schemaless(value);
        String name = schema.name();
        if (Decimal.LOGICAL_NAME.equals(name)) {
            int scale = Integer.parseInt(schema.parameters().get(Decimal.SCALE_FIELD));
            return new BigDecimal(value.asText()).setScale(scale);
        }
        if (org.apache.kafka.connect.data.Date.LOGICAL_NAME.equals(name))
            return Date.from(LocalDate.parse(value.asText()).atStartOfDay(ZoneOffset.UTC).toInstant());
        if (org.apache.kafka.connect.data.Time.LOGICAL_NAME.equals(name))
            return new Date(LocalTime.parse(value.asText()).toNanoOfDay() / 1_000_000L);
        if (org.apache.kafka.connect.data.Timestamp.LOGICAL_NAME.equals(name))
            return Date.from(Instant.parse(value.asText()));
        switch (schema.type()) {
            case INT8: return (byte) value.asLong();
            case INT16: return (short) value.asLong();
            case INT32: return (int) value.asLong();
            case INT64: return value.asLong();
            case FLOAT32: return (float) value.asDouble();
            case FLOAT64: return value.asDouble();
            case BOOLEAN: return value.asBoolean();
            case STRING: return value.asText();
            case BYTES: return Base64.getDecoder().decode(value.asText());
            case ARRAY: {
                List<Object> list = new ArrayList<>();
                for (JsonNode item : value) list.add(toConnect(schema.valueSchema(), item));
                return list;
            }
            case MAP: {
                Map<Object, Object> map = new LinkedHashMap<>();
                if (value.isObject()) {
                    Iterator<Map.Entry<String, JsonNode>> fields = value.fields();
                    while (fields.hasNext()) {
                        Map.Entry<String, JsonNode> entry = fields.next();
                        map.put(entry.getKey(), toConnect(schema.valueSchema(), entry.getValue()));
                    }
                } else {
                    for (JsonNode pair : value)
                        map.put(toConnect(schema.keySchema(), pair.get(0)), toConnect(schema.valueSchema(), pair.get(1)));
                }
                return map;
            }
            case STRUCT: {
                Struct struct = new Struct(schema);
                for (Field field : schema.fields()) {
                    Object item = toConnect(field.schema(), value.get(field.name()));
                    if (item != null) struct.put(field, item);
                }
                return struct;
            }
            default: throw new IllegalArgumentException("unknown type " + schema.type());
        }
    }

    static Object schemaless(JsonNode value) {
        if (value.isNull()) return null;
        if (value.isIntegralNumber()) return value.asLong();
        if (value.isNumber()) return value.asDouble();
        if (value.isBoolean()) return value.asBoolean();
        if (value.isTextual()) return value.asText();
        if (value.isArray()) {
            List<Object> list = new ArrayList<>();
            for (JsonNode item : value) list.add(schemaless(item));
            return list;
        }
        Map<String, Object> map = new LinkedHashMap<>();
        Iterator<Map.Entry<String, JsonNode>> fields = value.fields();
        while (fields.hasNext()) {
            Map.Entry<String, JsonNode> entry = fields.next();
            map.put(entry.getKey(), schemaless(entry.getValue()));
        }
        return map;
    }
}
