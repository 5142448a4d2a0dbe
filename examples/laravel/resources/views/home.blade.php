@extends('layout')

@section('title', 'Home')

@section('content')
<h1>Hello, {{ $name }}!</h1>
<p>Laravel {{ app()->version() }} on PHP {{ PHP_VERSION }}, {{ $mode }} mode
   (request {{ $served }} of this interpreter).</p>
<ul>
@foreach ($features as $feature)
    <li>{{ $feature }}</li>
@endforeach
</ul>
@endsection
