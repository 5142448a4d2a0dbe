<?php
// Creates the example's SQLite database and fills it; run by
// tools/setup-examples:  php database/create.php [PATH]
// PATH defaults to $DB_DATABASE, then storage/database.sqlite. Running it
// again leaves an existing database as it is.

$path = $argv[1] ?? (getenv('DB_DATABASE') ?: __DIR__ . '/../storage/database.sqlite');

$db = new PDO('sqlite:' . $path, null, null, [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
$db->exec('CREATE TABLE IF NOT EXISTS greetings (
    id INTEGER PRIMARY KEY,
    language TEXT NOT NULL,
    text TEXT NOT NULL
)');

if ((int) $db->query('SELECT COUNT(*) FROM greetings')->fetchColumn() === 0) {
    $insert = $db->prepare('INSERT INTO greetings (language, text) VALUES (?, ?)');
    $rows = [
        ['English', 'Hello'],
        ['French', 'Bonjour'],
        ['German', 'Hallo'],
        ['Italian', 'Ciao'],
        ['Japanese', 'Konnichiwa'],
        ['Spanish', 'Hola'],
    ];
    $db->beginTransaction();
    foreach ($rows as $row) {
        $insert->execute($row);
    }
    $db->commit();
}

echo realpath($path), PHP_EOL;
