<?php
// Describes each uploaded file, checking its temporary file while the request runs.
header('Content-Type: application/json');
$files = [];
foreach ($_FILES as $field => $file) {
    $exists = $file['tmp_name'] !== '' && is_file($file['tmp_name']);
    $files[$field] = [
        'name' => $file['name'],
        'type' => $file['type'],
        'size' => $file['size'],
        'error' => $file['error'],
        'tmp_name' => $file['tmp_name'],
        'tmp_exists' => $exists,
        'sha256' => $exists ? hash_file('sha256', $file['tmp_name']) : null,
        'is_uploaded_file' => is_uploaded_file($file['tmp_name']),
    ];
}
echo json_encode(['FILES' => $files, 'POST' => $_POST]);
