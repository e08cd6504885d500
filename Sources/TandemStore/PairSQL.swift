/// SQL for the rows of a mentoring-pair table (one with `mentor_id` and `mentee_id`) where a person
/// is on either side: as mentor, then as mentee (not twice when both), each half an index range
/// over its own column. Written as `mentor_id = ? OR mentee_id = ?`, SQLite reads every row the
/// shared conditions select — the whole organisation — to find the person's few.
public enum PairSQL {
    /// `SELECT columns FROM table` where `condition` holds and the person (`person`, a parameter
    /// such as `?2`) is mentor or mentee. Parameters are numbered (`?1`), since both halves use them.
    public static func eitherSide(select columns: String, from table: String, where condition: String, person: String) -> String {
        """
        SELECT \(columns) FROM \(table) WHERE \(condition) AND mentor_id = \(person)
        UNION ALL
        SELECT \(columns) FROM \(table) WHERE \(condition) AND mentee_id = \(person) AND mentor_id != \(person)
        """
    }
}
